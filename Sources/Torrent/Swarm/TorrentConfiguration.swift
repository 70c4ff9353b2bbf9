/// How a torrent session behaves on the network.
public struct TorrentConfiguration: Sendable {
    /// Where to accept peers (`nil` = do not listen); port 0 picks a free port.
    public var listenHost: String?
    /// The port to listen on (0 = any).
    public var listenPort: Int
    /// The port announced to trackers when it differs from the bound one (e.g. behind NAT); nil = bound port.
    public var announcedPort: Int?
    /// The tracker to announce to; nil = the torrent's `announce`, empty string = none.
    public var trackerURL: String?
    /// This node's rack, sent to our tracker as `&rack=`.
    public var rack: String?
    /// Peers to dial at start, as `host:port`.
    public var peers: [String]
    /// HTTP web seeds (BEP 19) used for pieces no connected peer has; nil = the torrent's `url-list`.
    public var webSeeds: [String]?
    /// Most connections at once (incoming and outgoing).
    public var maxConnections: Int
    /// Regular unchoke slots (one more rotates optimistically).
    public var uploadSlots: Int
    /// Block requests kept in flight per peer: the adaptive queue grows between these bounds.
    public var minRequestQueue: Int
    /// See `minRequestQueue`.
    public var maxRequestQueue: Int
    /// Bad pieces after which a peer is banned.
    public var maxBadPieces: Int
    /// Upload cap in bytes per second (nil = none).
    public var uploadLimit: Int?
    /// Seconds between choking rounds (BEP 3 suggests 10).
    public var chokeInterval: Int
    /// Choke rounds between optimistic unchoke rotations (3 × 10 s = 30 s).
    public var optimisticEveryRounds: Int
    /// Hosts whose payload counts in `TorrentProgress.downloadedFromSeedHosts` (the reconciler's seed), by IP.
    public var seedHosts: Set<String>

    /// Creates a configuration with defaults suited to a data-center LAN.
    public init(
        listenHost: String? = "0.0.0.0",
        listenPort: Int = 0,
        announcedPort: Int? = nil,
        trackerURL: String? = nil,
        rack: String? = nil,
        peers: [String] = [],
        webSeeds: [String]? = nil,
        maxConnections: Int = 80,
        uploadSlots: Int = 4,
        minRequestQueue: Int = 16,
        maxRequestQueue: Int = 500,
        maxBadPieces: Int = 3,
        uploadLimit: Int? = nil,
        chokeInterval: Int = 10,
        optimisticEveryRounds: Int = 3,
        seedHosts: Set<String> = []
    ) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.announcedPort = announcedPort
        self.trackerURL = trackerURL
        self.rack = rack
        self.peers = peers
        self.webSeeds = webSeeds
        self.maxConnections = maxConnections
        self.uploadSlots = uploadSlots
        self.minRequestQueue = minRequestQueue
        self.maxRequestQueue = maxRequestQueue
        self.maxBadPieces = maxBadPieces
        self.uploadLimit = uploadLimit
        self.chokeInterval = chokeInterval
        self.optimisticEveryRounds = optimisticEveryRounds
        self.seedHosts = seedHosts
    }
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
    /// Bytes verified when the first block went out to a peer; nil until one has.
    public var verifiedBytesAtFirstUpload: Int64?

    /// Whether every piece is verified.
    public var isComplete: Bool { verifiedPieces == pieceCount }
}

/// A session-level failure.
public struct TorrentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What failed, and whether retrying can help.
    public enum Code: String, Sendable {
        case storage = "storage failed"
        case listen = "cannot listen"
        case stopped = "session stopped"
        case tracker = "tracker request failed"
    }

    /// The kind of failure.
    public var code: Code
    /// Detail for the operator.
    public var detail: String

    public var description: String { "\(code.rawValue): \(detail)" }
}
