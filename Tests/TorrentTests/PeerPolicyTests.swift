import NIOCore
import Testing

@testable import Torrent

/// Timeouts, eviction and flood limits, bans by address and the fair upload limiter, each without a socket.
struct PeerTimeoutsTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func activity(handshaken: Bool = true) -> PeerTimeouts.Activity {
        PeerTimeouts.Activity(
            connectedAt: start, handshaken: handshaken, lastMessageAt: start, lastSentAt: start, idleSince: start,
            unchokedUnusedSince: nil, starvedSince: nil, requestsStalled: false
        )
    }

    @Test func aPeerThatOnlySendsKeepAlivesIsDroppedAfterTheIdleTimeout() {
        let timeouts = PeerTimeouts()
        let idle = Self.activity()
        #expect(timeouts.verdict(idle, now: Self.start + .seconds(30)) == .keep)
        #expect(timeouts.verdict(idle, now: Self.start + .seconds(31)) == .drop("neither side interested"))
        var trading = idle
        trading.idleSince = nil
        #expect(timeouts.verdict(trading, now: Self.start + .seconds(61)) == .sendKeepAlive)
        #expect(timeouts.verdict(trading, now: Self.start + .seconds(91)) == .drop("silent"))
        let silent = Self.activity(handshaken: false)
        #expect(timeouts.verdict(silent, now: Self.start + .seconds(11)) == .drop("no handshake"))
    }

    @Test func anUnchokedPeerThatAsksForNothingLosesItsSlotAndAStarverIsDropped() {
        let timeouts = PeerTimeouts()
        var unused = Self.activity()
        unused.idleSince = nil
        unused.lastMessageAt = Self.start + .seconds(30)
        unused.unchokedUnusedSince = Self.start
        #expect(timeouts.verdict(unused, now: Self.start + .seconds(31)) == .choke)
        var starved = Self.activity()
        starved.idleSince = nil
        starved.lastMessageAt = Self.start + .seconds(60)
        starved.starvedSince = Self.start
        #expect(timeouts.verdict(starved, now: Self.start + .seconds(61)) == .drop("choked us and wants nothing"))
    }

    @Test func theLongestIdlePeerMakesRoomButOnlyAfterTheGracePeriod() {
        let timeouts = PeerTimeouts()
        var early = Self.activity()
        early.idleSince = Self.start
        var later = Self.activity()
        later.idleSince = Self.start + .seconds(3)
        var busy = Self.activity()
        busy.idleSince = nil
        let peers = [(key: PeerKey(1), activity: busy), (PeerKey(2), later), (PeerKey(3), early)]
        #expect(timeouts.evictionCandidate(peers, now: Self.start + .seconds(4)) == nil)
        #expect(timeouts.evictionCandidate(peers, now: Self.start + .seconds(6)) == PeerKey(3))
        #expect(timeouts.isFlooding(chatter: 65) && !timeouts.isFlooding(chatter: 64))
    }
}

struct PeerBlameTests {
    @Test func aSoleSourceIsBannedByAddressWhateverItsPeerID() {
        var blame = PeerBlame(maxBadPieces: 2)
        blame.contributed(0, by: "10.0.0.9")
        #expect(blame.failed(0) == PeerBlame.Failure(sources: 1))
        // The same address (a new connection, a new peer id) sends another bad piece: banned.
        blame.contributed(1, by: "10.0.0.9")
        #expect(blame.failed(1) == PeerBlame.Failure(sources: 1, banned: "10.0.0.9"))
        #expect(blame.isBanned("10.0.0.9") && !blame.isBanned("10.0.0.8"))
    }

    @Test func mixedSourcesAreNotBlamedAndAGoodPieceClearsTheRecord() {
        var blame = PeerBlame(maxBadPieces: 1)
        blame.contributed(0, by: "10.0.0.1")
        blame.contributed(0, by: "10.0.0.2")
        #expect(blame.failed(0) == PeerBlame.Failure(sources: 2))
        blame.contributed(1, by: "10.0.0.1")
        blame.passed(1)
        #expect(blame.failed(1) == PeerBlame.Failure(sources: 0), "a web-seed piece has no peer to blame")
        #expect(blame.banned.isEmpty)
    }
}

struct UploadLimiterTests {
    @Test func tokensAreSharedEvenlyStartingFromADifferentPeerEachRound() {
        var limiter = UploadLimiter(bytesPerSecond: 4 << 20)
        let waiting = [PeerKey(3), PeerKey(1), PeerKey(2)]
        let first = limiter.shares(waiting: waiting, elapsed: .milliseconds(50))
        let second = limiter.shares(waiting: waiting, elapsed: .milliseconds(50))
        #expect(first.map(\.peer) == [PeerKey(1), PeerKey(2), PeerKey(3)])
        #expect(second.map(\.peer) == [PeerKey(2), PeerKey(3), PeerKey(1)])
        #expect(Set(first.map(\.bytes)).count == 1, "equal shares")
        // A share is at least a block, and the bucket never gives more than it holds.
        var taken = 0
        while limiter.take(PiecePicker.blockSize) { taken += PiecePicker.blockSize }
        #expect(taken <= 1 << 20)
        #expect(limiter.bucket.tokens < PiecePicker.blockSize)
        #expect(limiter.shares(waiting: [], elapsed: .seconds(1)).isEmpty)
    }
}

struct SuperSeedOffersTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func offersSpreadOverPeersExpireWhenIgnoredAndEndWithAHave() {
        var offers = SuperSeedOffers(pieceCount: 8, perPeer: 2, inFlight: 3, timeout: .seconds(20))
        var random = SwarmRandom(seed: 8)
        offers.join(PeerKey(1))
        offers.join(PeerKey(2))
        let none = Bitfield(count: 8)
        let made = offers.next(
            has: { _ in none }, availability: [Int](repeating: 0, count: 8), now: Self.start, using: &random)
        #expect(made.count == 3)
        #expect(Set(made.map(\.piece)).count == 3, "no piece offered twice")
        #expect(made.filter { $0.peer == PeerKey(1) }.count >= 1 && made.filter { $0.peer == PeerKey(2) }.count >= 1)
        let mine = made[0]
        let delivered = offers.peerHas(mine.peer, mine.piece)
        #expect(delivered)
        #expect(offers.holders[mine.peer]?.delivered == 1)
        // Served offers stay; the others expire after the timeout.
        let kept = made[1]
        offers.served(kept.peer, piece: kept.piece, now: Self.start + .seconds(15))
        let expired = offers.expire(now: Self.start + .seconds(21))
        #expect(expired)
        #expect(offers.offered(to: kept.peer) == [kept.piece])
        offers.leave(kept.peer)
        #expect(offers.holders[kept.peer] == nil)
    }

    /// libtorrent closes a connection when a `have` shows it a seed it is not interested in, and it judges its
    /// interest before that `have` counts; it does not dial again for a minute. A peer that has fetched every
    /// earlier offer when the next batch arrives (the worst case) must therefore hear of our last piece right after
    /// a piece it lacks, in the same batch. With 13 pieces no offer count per peer divides the pieces evenly, so
    /// without that rule the last piece would go alone.
    @Test(arguments: [1, 2, 3]) func theHaveThatShowsAPeerASeedFollowsOneOfAPieceItLacks(perPeer: Int) {
        let count = 13
        var offers = SuperSeedOffers(pieceCount: count, perPeer: perPeer, inFlight: 8, timeout: .seconds(20))
        var random = SwarmRandom(seed: 13)
        let peer = PeerKey(1)
        offers.join(peer)
        var has = Bitfield(count: count)
        var heard: Set<Int> = []
        for _ in 0..<count where !has.isComplete {
            let availability = (0..<count).map { has.contains($0) ? 1 : 0 }
            let made = offers.next(has: { _ in has }, availability: availability, now: Self.start, using: &random)
            #expect(!made.isEmpty, "nothing offered to a peer lacking \(count - has.setCount) pieces")
            var lacksOneHeard = false
            for offer in made {
                if heard.count == count - 1, !heard.contains(offer.piece) {
                    #expect(lacksOneHeard, "the have of piece \(offer.piece) showed a seed to a peer not interested")
                }
                heard.insert(offer.piece)
                if !has.contains(offer.piece) { lacksOneHeard = true }
            }
            // The peer fetches every offer before the next batch reaches it, and says so.
            for offer in made where !has.contains(offer.piece) {
                has.insert(offer.piece)
                let ended = offers.peerHas(peer, offer.piece)
                #expect(ended)
            }
        }
        #expect(has.isComplete)
        #expect(heard.count == count)
    }

    /// Two peers that cannot reach each other: once every piece sits on one of them, a strict super-seed has
    /// nothing left to offer either, and both would wait forever. After `starveAfter` with no offer and no new
    /// piece, a peer is offered what only the other holds; a peer still gaining pieces from others is not.
    @Test func aPeerThatOthersDoNotServeIsOfferedTheirPiecesAfterAWait() throws {
        var offers = SuperSeedOffers(
            pieceCount: 6, perPeer: 1, inFlight: 4, timeout: .seconds(20), starveAfter: .seconds(5))
        var random = SwarmRandom(seed: 3)
        let (a, b) = (PeerKey(1), PeerKey(2))
        offers.join(a)
        offers.join(b)
        var has = [a: Bitfield(count: 6), b: Bitfield(count: 6)]
        var availability = [0, 0, 0, 0, 0, 0]
        while true {
            let made = offers.next(has: { has[$0]! }, availability: availability, now: Self.start, using: &random)
            if made.isEmpty { break }
            for offer in made {
                has[offer.peer]!.insert(offer.piece)
                availability[offer.piece] += 1
                let ended = offers.peerHas(offer.peer, offer.piece)
                #expect(ended)
            }
        }
        #expect(has[a]!.setCount == 3 && has[b]!.setCount == 3)
        // Every piece is on a connected peer: nothing to offer, now or before the wait is over.
        let early = offers.next(
            has: { has[$0]! }, availability: availability, now: Self.start + .seconds(4), using: &random)
        #expect(early.isEmpty)
        // Peer b gains a piece from a in the meantime: its wait starts again; a's does not.
        _ = offers.peerHas(b, (0..<6).first { !has[b]!.contains($0) }!)
        let late = offers.next(
            has: { has[$0]! }, availability: availability, now: Self.start + .seconds(5), using: &random)
        #expect(late.map(\.peer) == [a])
        #expect(late.allSatisfy { !has[a]!.contains($0.piece) })
        // Delivering an offer does not end a's starving (the seed served it, not the others): the next offer
        // follows at once, not after another wait (with the last piece a has not heard of, as it leaves one).
        let first = try #require(late.first)
        has[a]!.insert(first.piece)
        _ = offers.peerHas(a, first.piece)
        let next = offers.next(
            has: { has[$0]! }, availability: availability, now: Self.start + .seconds(5), using: &random)
        #expect(next.map(\.peer) == [a, a])
        #expect(next.allSatisfy { !has[a]!.contains($0.piece) })
    }
}
