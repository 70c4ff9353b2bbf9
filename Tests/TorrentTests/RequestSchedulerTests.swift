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

    /// A scheduler over `pieces` pieces with peer `a` joined at the start, a seeded random source, and the
    /// bitfields of a peer that has every piece and of ours, which has none.
    struct Fixture {
        var scheduler: RequestScheduler
        var random: SwarmRandom
        let full: Bitfield
        let none: Bitfield

        init(pieces: Int, minQueue: Int = 4, seed: UInt64) {
            scheduler = RequestSchedulerTests.scheduler(pieces: pieces, minQueue: minQueue)
            random = SwarmRandom(seed: seed)
            full = Bitfield(count: pieces, allSet: true)
            none = Bitfield(count: pieces)
            scheduler.join(a, now: start)
        }

        /// The requests the scheduler sends `peer`, which has every piece, at `now`.
        mutating func requests(for peer: PeerKey, now: NIODeadline = start) -> [BlockRequest] {
            scheduler.requests(for: peer, peerHas: full, have: none, now: now, using: &random)
        }
    }

    @Test func fillsThePipelineAndBooksEachArrivalOnce() {
        var fixture = Fixture(pieces: 4, seed: 1)
        fixture.scheduler.peerBitfield(from: fixture.none, to: fixture.full)
        let sent = fixture.requests(for: Self.a)
        #expect(sent.count == 4)
        #expect(fixture.scheduler.outstanding(Self.a) == Set(sent))
        // A full pipeline is not topped up one block at a time.
        #expect(fixture.requests(for: Self.a).isEmpty)
        let later = Self.start + .milliseconds(250)
        let arrival = fixture.scheduler.received(sent[0], from: Self.a, now: later)
        #expect(arrival == .accepted(pieceComplete: false, cancel: []))
        let again = fixture.scheduler.received(sent[0], from: Self.a, now: later)
        #expect(again == .duplicate)
        #expect(fixture.scheduler.statistics.duplicateBlocks == 1)
        #expect(fixture.scheduler.statistics.answeredRequests == 1)
        #expect(fixture.scheduler.statistics.requestSecondsMax == 0.25)
    }

    @Test func endgameCancelsTheLosersAndARejectFreesTheBlock() {
        var fixture = Fixture(pieces: 1, seed: 2)
        fixture.scheduler.join(Self.b, now: Self.start)
        let first = fixture.requests(for: Self.a)
        let later = Self.start + .seconds(2)
        let second = fixture.requests(for: Self.b, now: later)
        #expect(Set(second) == Set(first), "endgame: every block asked of both")
        #expect(fixture.scheduler.statistics.endgameAfter == 2)
        let arrival = fixture.scheduler.received(first[0], from: Self.b, now: later)
        #expect(arrival == .accepted(pieceComplete: false, cancel: [Self.a]))
        #expect(!fixture.scheduler.outstanding(Self.a).contains(first[0]))
        fixture.scheduler.rejected(first[1], by: Self.a)
        #expect(!fixture.scheduler.outstanding(Self.a).contains(first[1]))
    }

    @Test func aPeerThatSitsOnRequestsIsStalledAndItsBlocksGoElsewhereWhenItLeaves() {
        var fixture = Fixture(pieces: 1, seed: 3)
        fixture.scheduler.peerBitfield(from: fixture.none, to: fixture.full)
        _ = fixture.requests(for: Self.a)
        #expect(!fixture.scheduler.isStalled(Self.a, now: Self.start + .seconds(30), timeout: .seconds(30)))
        #expect(fixture.scheduler.isStalled(Self.a, now: Self.start + .seconds(31), timeout: .seconds(30)))
        fixture.scheduler.leave(Self.a, had: fixture.full)
        #expect(fixture.scheduler.picker.availability == [0])
        fixture.scheduler.join(Self.b, now: Self.start)
        let retaken = fixture.requests(for: Self.b)
        #expect(retaken.count == 4, "the leaver's blocks are asked of the next peer")
    }

    /// Slow start: a peer that answers within half the horizon gets one more request per answer, so its pipeline
    /// doubles every round trip long before a rate is measured; one whose answers queue does not grow, and a
    /// per-second `adapt` with a young connection's low rate does not take the earned depth away.
    @Test func aFastPeersPipelineGrowsEveryRoundTripASlowOnesDoesNot() {
        for (roundTrip, grows) in [(TimeAmount.milliseconds(1), true), (.milliseconds(200), false)] {
            var fixture = Fixture(pieces: 64, seed: 9)
            fixture.scheduler.peerBitfield(from: fixture.none, to: fixture.full)
            var now = Self.start
            var inFlight = fixture.requests(for: Self.a, now: now)
            for _ in 0..<5 {
                now = now + roundTrip
                for request in inFlight { _ = fixture.scheduler.received(request, from: Self.a, now: now) }
                inFlight = fixture.requests(for: Self.a, now: now)
            }
            let depth = fixture.scheduler.books(of: Self.a)?.queueDepth ?? 0
            if grows {
                #expect(depth == 4 << 5, "4 doubled five times")
                fixture.scheduler.adapt(Self.a, rate: 100_000)
                #expect(fixture.scheduler.books(of: Self.a)?.queueDepth == depth)
            } else {
                #expect(depth == 4)
            }
        }
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
            var fixture = Fixture(pieces: 64, minQueue: 8, seed: seed)
            return fixture.requests(for: Self.a)
        }
        #expect(run(seed: 9) == run(seed: 9))
        #expect((1...8).map { run(seed: $0).first?.piece }.contains { $0 != run(seed: 9).first?.piece })
    }
}
