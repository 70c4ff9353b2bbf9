import MemberwiseInit
import RackswarmCore

/// How a torrent session behaves on the network; the defaults suit a data-center LAN.
@PublicMemberwiseInit
public struct TorrentConfiguration: Sendable {
    /// Where to accept peers (`nil` = do not listen); port 0 picks a free port.
    public var listenHost: String? = "0.0.0.0"
    /// The port to listen on (0 = any).
    public var listenPort: Int = 0
    /// The port announced to trackers when it differs from the bound one (e.g. behind NAT); nil = bound port.
    public var announcedPort: Int?
    /// The tracker to announce to; nil = the torrent's `announce`, empty string = none.
    public var trackerURL: String?
    /// Trackers to announce to in turn once the one in use fails (several reconcilers' trackers, the install
    /// entry's `rackswarm.fallback=`): a failed announce moves to the next, and the session stays with the one
    /// that answers.
    public var fallbackTrackers: [String] = []
    /// This node's rack, sent to our tracker as `&rack=`.
    public var rack: String?
    /// When our tracker names this node's rack, keep traffic in it where it can be (`RackLocality`): peers in other
    /// racks (and the seed on the core) are asked only for pieces no rack peer has, and rack peers take the upload
    /// slots first (`Choker+Rack.swift`). Off by default: in the simulator it brings a rack's uplink traffic from
    /// ~18 F to ~2.4 F (both ways) but makes the makespan worse, with or without an uplink cap (benchmarks/README.md,
    /// sessions 11 and 13). The tracker's `keep in rack` turns the same rule on.
    public var rackPreference: Bool = false
    /// Peers to dial at start, as `host:port`.
    public var peers: [String] = []
    /// HTTP web seeds (BEP 19) used for pieces no connected peer has; nil = the torrent's `url-list`.
    public var webSeeds: [String]?
    /// Most connections at once (incoming and outgoing).
    public var maxConnections: Int = 80
    /// Most connections we dial (nil: half of `maxConnections`); the rest stay open to peers that dial us. Without
    /// it the first peers of a swarm fill every slot with each other, and with the seed: the image enters the
    /// swarm through a clique that later peers barely reach (the simulator's makespan grew with N; issue 21).
    public var maxOutgoingConnections: Int?
    /// Most incoming connections from one address: one host cannot take every slot.
    public var maxConnectionsPerHost: Int = 8
    /// Seconds a connection may stay idle (neither side interested, or unchoked and asking for nothing) before its
    /// slot goes to a peer that trades.
    public var idleTimeout: Int = 30
    /// Regular unchoke slots (one more rotates optimistically).
    public var uploadSlots: Int = 16
    /// Block requests kept in flight per peer: the adaptive queue grows between these bounds.
    public var minRequestQueue: Int = 4
    /// See `minRequestQueue`. 500 blocks (8 MiB, libtorrent's default cap too) keep several pieces in flight to a
    /// fast peer on a LAN: a seed that reads or checks a piece before its first block (libtorrent's seed mode
    /// hashes it) then still has the next pieces' requests in hand. Slow peers never get near it.
    public var maxRequestQueue: Int = 500
    /// Bad pieces after which a peer is banned.
    public var maxBadPieces: Int = 3
    /// Upload cap in bytes per second (nil = none).
    public var uploadLimit: Int?
    /// Seconds between choking rounds. BEP 3 suggests 10, but a data center moves an image in seconds: with a
    /// round every 10 s the first one, at 10 s of a 13 s transfer (1.5 GB at 1 GbE), decided who was served to the
    /// end, and the peers it ranked last everywhere (each fetched at a third to half of its link from ~9 uploaders
    /// where the others had ~18) finished seconds after the rest. Every second, the rates are re-ranked (each over
    /// `RateMeter`'s 4 s) and the slots for peers behind renewed before a peer falls far behind: in the simulator
    /// 256 × 1.5 GB went from 2.05/1.70/1.76× the bound to 1.42/1.37/1.38× (seeds 1–3), 1,000 × 1.5 GB from
    /// 2.09/1.93/2.11× to 1.61/1.55/1.58× (benchmarks/README.md, session 14).
    public var chokeInterval: Int = 1
    /// Choke rounds between optimistic unchoke rotations (3 × 1 s).
    public var optimisticEveryRounds: Int = 3
    /// Seconds of a peer's measured rate kept requested on top of `minRequestQueue`: enough to cover the round trip
    /// and the sender's queue, short enough that what all peers have outstanding stays a small part of what is left
    /// (a full second of every peer's rate made the endgame start early and fetch blocks twice).
    public var requestHorizon: Double = 0.3
    /// Kernel send buffer per connection in bytes (nil: the kernel's autotuning, which grows to megabytes). Small,
    /// so that requested blocks wait in our queue, where a cancel still removes them, not in the socket.
    public var sendBuffer: Int? = 128 << 10
    /// While seeding, offer each peer a few pieces at a time instead of the whole bitfield (BEP 16 super-seeding),
    /// so that every piece leaves this seed once before any leaves it twice.
    public var superSeed: Bool = false
    /// Pieces offered to each peer at once when super-seeding.
    public var superSeedOffers: Int = 2
    /// Offers out at once across all peers when super-seeding (until the peer's `have`). Few: each piece leaves the
    /// seed at a large share of its upload and can be passed on sooner; in the lab 8 beat 4 (the seed idled between
    /// offers) and counting an offer done once its last block was sent (more pieces in flight: 1.36× vs 1.28×), and
    /// 8 beat 32 at N = 16 (makespan 1.30–1.32× against 1.42–1.45× T_p2p, session 11), although the simulator,
    /// whose fair shares hold each seed flow to a receiver's share, finds 32 better (benchmarks/README.md). With
    /// 128 MiB, 16 bring the median node in earlier at N = 16 and 32 and the last one later at N = 16 (its last 16
    /// pieces leave at once, each at half the rate); `reconcile seed --super-seed-in-flight` sets it (session 15).
    public var superSeedInFlight: Int = 8
    /// Seconds without a block sent after which a super-seed offers a piece elsewhere (the peer sat on the offer).
    public var superSeedOfferTimeout: Int = 20
    /// Hosts whose payload counts in `TorrentProgress.downloadedFromSeedHosts` (the reconciler's seed), by IP.
    public var seedHosts: Set<String> = []
    /// Seeds the session's randomness (peer id, picking, choking, backoff jitter); nil = from the system. A test
    /// or a simulator sets it to replay a run.
    public var randomSeed: UInt64?
    /// Send a `have` for each verified piece to every peer, also to one that has it and once said `interested`
    /// (off: have-suppression, `SwarmDriver.announceVerified`; on: for comparison runs).
    public var redundantHaves: Bool = false

    /// `maxOutgoingConnections`, or half of `maxConnections` (at least one).
    public var outgoingLimit: Int { maxOutgoingConnections ?? max(1, maxConnections / 2) }
}

/// A snapshot of a session's progress.
public struct TorrentProgress: Sendable, Equatable {
    /// Verified pieces.
    public var verifiedPieces: Int
    /// All pieces.
    public var pieceCount: Int
    /// Bytes in verified pieces.
    public var verifiedBytes: Int64
    /// Total size.
    public var totalBytes: Int64
    /// Payload bytes received from peers (including discarded ones).
    public var downloadedBytes: Int64
    /// Payload bytes sent to peers.
    public var uploadedBytes: Int64
    /// Connected peers that completed the handshake.
    public var peers: Int
    /// Current download rate in bytes per second.
    public var downloadRate: Double
    /// Current upload rate in bytes per second.
    public var uploadRate: Double
    /// Pieces that failed their hash check.
    public var hashFailures: Int
    /// Peers banned for bad data.
    public var bannedPeers: Int
    /// Payload bytes received from `TorrentConfiguration.seedHosts` peers and from web seeds (both the
    /// reconciler), as opposed to other nodes.
    public var downloadedFromSeedHosts: Int64
    /// Payload bytes received from each peer address (IP), connections closed or open; what crossed which link.
    public var downloadedByHost: [String: Int64] = [:]
    /// Bytes verified when the first block went out to a peer; nil until one has.
    public var verifiedBytesAtFirstUpload: Int64?
    /// Where the bytes went: duplicates, cancels, endgame, request latency.
    public var statistics: SwarmStatistics

    /// Whether every piece is verified.
    public var isComplete: Bool { verifiedPieces == pieceCount }
}

/// Counters that show how much of a session's traffic was useful, for benchmarks and operators.
public struct SwarmStatistics: Sendable, Equatable {
    /// Blocks received that were already in hand or no longer asked of that peer (endgame losers, late arrivals).
    public var duplicateBlocks = 0
    /// Payload bytes of those blocks.
    public var duplicateBytes: Int64 = 0
    /// Cancels we sent for blocks another peer delivered first.
    public var cancelsSent = 0
    /// Cancels from peers that removed a block we had not sent yet.
    public var cancelsHonoured = 0
    /// Requests we sent for a block already asked of another peer (endgame).
    public var endgameRequests = 0
    /// Seconds from the session's start to its first endgame request.
    public var endgameAfter: Double?
    /// Requests answered by the peer they were sent to.
    public var answeredRequests = 0
    /// The sum of those requests' round trips in seconds (request sent → block in).
    public var requestSecondsTotal = 0.0
    /// The longest of those round trips in seconds.
    public var requestSecondsMax = 0.0
    /// Blocks we uploaded.
    public var uploadedBlocks = 0
    /// Distinct blocks among those (uploads / distinct = how many times each block left us).
    public var distinctUploadedBlocks = 0

    public init() {}

    /// The mean request round trip in seconds.
    public var meanRequestSeconds: Double {
        answeredRequests == 0 ? 0 : requestSecondsTotal / Double(answeredRequests)
    }

    /// One line for logs (the distribution lab parses it): `dup 12 blocks (192.0 KiB) cancels-sent 30
    /// cancels-honoured 2 endgame 8.17s (29 req) rtt-mean 0.170s rtt-max 0.900s sent-blocks 2050 distinct 2048 (x1.00)`.
    public var summary: String {
        var line = "dup \(duplicateBlocks) blocks (\(ProgressLine.bytes(duplicateBytes)))"
        line += " cancels-sent \(cancelsSent) cancels-honoured \(cancelsHonoured)"
        line += " endgame " + (endgameAfter.map { ProgressLine.format($0, digits: 2) + "s" } ?? "-")
        line += " (\(endgameRequests) req)"
        line += " rtt-mean \(ProgressLine.format(meanRequestSeconds, digits: 3))s"
        line += " rtt-max \(ProgressLine.format(requestSecondsMax, digits: 3))s"
        let sends = distinctUploadedBlocks == 0 ? 0 : Double(uploadedBlocks) / Double(distinctUploadedBlocks)
        line += " sent-blocks \(uploadedBlocks) distinct \(distinctUploadedBlocks)"
        line += " (x\(ProgressLine.format(sends, digits: 2)))"
        return line
    }
}

/// A session-level failure.
public typealias TorrentError = CodedError<TorrentErrorCode>

/// What failed in a session, and whether retrying can help.
public enum TorrentErrorCode: String, ErrorCode {
    case storage = "storage failed"
    case listen = "cannot listen"
    case stopped = "session stopped"
    case tracker = "tracker request failed"

    /// Tracker failures are retried; a listen failure waits for the port; storage failures need a look.
    public var intent: ErrorIntent {
        switch self {
        case .tracker: .transient
        case .listen: .waiting(retryAfter: .seconds(5))
        case .storage: .stalled
        case .stopped: .transient
        }
    }

    public static func describe(_ code: Self, detail: String) -> String { "\(code.rawValue): \(detail)" }
}
