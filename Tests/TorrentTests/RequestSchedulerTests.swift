import NIOCore
import Testing

@testable import Torrent

/// The request scheduler in virtual time: pipelines, arrivals, endgame cancels, stalls and releases.
struct RequestSchedulerTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static let a = PeerKey(1)
    static let b = PeerKey(2)

    static func scheduler(pieces: Int, minQueue: Int = 4) -> RequestScheduler {
        RequestScheduler(
            picker: PiecePicker(pieceCount: pieces, pieceLength: 64 << 10, totalLength: Int64(pieces) * (64 << 10)),
            minQueue: minQueue, maxQueue: 128, horizon: 0.3, startedAt: start
        )
    }

    @Test func fillsThePipelineAndBooksEachArrivalOnce() {
        var scheduler = Self.scheduler(pieces: 4)
        var random = SwarmRandom(seed: 1)
        let full = Bitfield(count: 4, allSet: true)
        let none = Bitfield(count: 4)
        scheduler.join(Self.a, now: Self.start)
        scheduler.peerBitfield(from: none, to: full)
        let sent = scheduler.requests(for: Self.a, peerHas: full, have: none, now: Self.start, using: &random)
        #expect(sent.count == 4)
        #expect(scheduler.outstanding(Self.a) == Set(sent))
        // A full pipeline is not topped up one block at a time.
        let more = scheduler.requests(for: Self.a, peerHas: full, have: none, now: Self.start, using: &random)
        #expect(more.isEmpty)
        let later = Self.start + .milliseconds(250)
        let arrival = scheduler.received(sent[0], from: Self.a, now: later)
        #expect(arrival == .accepted(pieceComplete: false, cancel: []))
        let again = scheduler.received(sent[0], from: Self.a, now: later)
        #expect(again == .duplicate)
        #expect(scheduler.statistics.duplicateBlocks == 1)
        #expect(scheduler.statistics.answeredRequests == 1)
        #expect(scheduler.statistics.requestSecondsMax == 0.25)
    }

    @Test func endgameCancelsTheLosersAndARejectFreesTheBlock() {
        var scheduler = Self.scheduler(pieces: 1)
        var random = SwarmRandom(seed: 2)
        let full = Bitfield(count: 1, allSet: true)
        let none = Bitfield(count: 1)
        scheduler.join(Self.a, now: Self.start)
        scheduler.join(Self.b, now: Self.start)
        let first = scheduler.requests(for: Self.a, peerHas: full, have: none, now: Self.start, using: &random)
        let later = Self.start + .seconds(2)
        let second = scheduler.requests(for: Self.b, peerHas: full, have: none, now: later, using: &random)
        #expect(Set(second) == Set(first), "endgame: every block asked of both")
        #expect(scheduler.statistics.endgameAfter == 2)
        let arrival = scheduler.received(first[0], from: Self.b, now: later)
        #expect(arrival == .accepted(pieceComplete: false, cancel: [Self.a]))
        #expect(!scheduler.outstanding(Self.a).contains(first[0]))
        scheduler.rejected(first[1], by: Self.a)
        #expect(!scheduler.outstanding(Self.a).contains(first[1]))
    }

    @Test func aPeerThatSitsOnRequestsIsStalledAndItsBlocksGoElsewhereWhenItLeaves() {
        var scheduler = Self.scheduler(pieces: 1)
        var random = SwarmRandom(seed: 3)
        let full = Bitfield(count: 1, allSet: true)
        let none = Bitfield(count: 1)
        scheduler.join(Self.a, now: Self.start)
        scheduler.peerBitfield(from: none, to: full)
        _ = scheduler.requests(for: Self.a, peerHas: full, have: none, now: Self.start, using: &random)
        #expect(!scheduler.isStalled(Self.a, now: Self.start + .seconds(30), timeout: .seconds(30)))
        #expect(scheduler.isStalled(Self.a, now: Self.start + .seconds(31), timeout: .seconds(30)))
        scheduler.leave(Self.a, had: full)
        #expect(scheduler.picker.availability == [0])
        scheduler.join(Self.b, now: Self.start)
        let retaken = scheduler.requests(for: Self.b, peerHas: full, have: none, now: Self.start, using: &random)
        #expect(retaken.count == 4, "the leaver's blocks are asked of the next peer")
    }

    @Test func queueDepthIsAShortHorizonOfThePeersRate() {
        let scheduler = Self.scheduler(pieces: 1)
        #expect(scheduler.queueDepth(forRate: 0) == scheduler.minQueue)
        // 5 MB/s (a 40 Mbit/s link) keeps well under a second of data outstanding.
        let depth = scheduler.queueDepth(forRate: 5_000_000)
        #expect(depth > scheduler.minQueue)
        #expect(depth * PiecePicker.blockSize < 5_000_000 / 2)
        #expect(scheduler.queueDepth(forRate: 1e12) == scheduler.maxQueue)
    }

    @Test func theSameSeedPicksTheSamePieces() {
        func run(seed: UInt64) -> [BlockRequest] {
            var scheduler = Self.scheduler(pieces: 64, minQueue: 8)
            var random = SwarmRandom(seed: seed)
            let full = Bitfield(count: 64, allSet: true)
            scheduler.join(Self.a, now: Self.start)
            return scheduler.requests(
                for: Self.a, peerHas: full, have: Bitfield(count: 64), now: Self.start, using: &random)
        }
        #expect(run(seed: 9) == run(seed: 9))
        #expect((1...8).map { run(seed: $0).first?.piece }.contains { $0 != run(seed: 9).first?.piece })
    }
}
