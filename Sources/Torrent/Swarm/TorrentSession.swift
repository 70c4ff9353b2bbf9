import Logging
import NIOCore
import NIOPosix

/// One torrent's swarm engine: the wiring between peer connections, storage and the parts that decide.
///
/// Each decision lives in a part that takes the time and the randomness as inputs: `RequestScheduler` (what to ask
/// whom, over the `PiecePicker`), `Choker` (upload slots), `SuperSeedOffers`, `WebSeedFallback`, `Announcer`,
/// `UploadLimiter`, `PeerBlame` (bans) and `PeerTimeouts`, `DialBackoff`. The session owns the verified pieces, reads
/// the clock, does the I/O and applies what the parts return. All mutable state is touched only on `loop`; the
/// public `TorrentClient` hops onto it.
final class TorrentSession: @unchecked Sendable {
    let loop: any EventLoop
    let metainfo: Metainfo
    let storage: PieceStorage
    let configuration: TorrentConfiguration
    let peerID: [UInt8]
    let logger: Logger
    let threadPool: NIOThreadPool
    /// The session's only clock: every part gets its `now` from here.
    let clock: @Sendable () -> NIODeadline

    /// Verified pieces: the authoritative have-set.
    var have: Bitfield
    var scheduler: RequestScheduler
    var choker: Choker
    /// Set while super-seeding (a complete session with `superSeed` on).
    var offers: SuperSeedOffers?
    var blame: PeerBlame
    var timeouts: PeerTimeouts
    var dialer = DialBackoff()
    var webSeed: WebSeedFallback
    var announcer: Announcer
    var limiter: UploadLimiter?
    var random: SwarmRandom

    var peers: [PeerKey: Peer] = [:] { didSet { connectionOrder.invalidate() } }
    var connectionOrder = ConnectionOrder<Peer>()
    private var nextKey: UInt64 = 0
    /// The peer id behind each dialled target, to skip targets already connected the other way.
    var targetIDs: [String: [UInt8]] = [:]
    private var dialing: Set<String> = []
    private var serverChannel: (any Channel)?
    var timers: [RepeatedTask] = []
    var ticks = 0
    var chokeRounds = 0
    var stopped = false
    var lastLimiterRound: NIODeadline

    /// Our rack as the tracker names it, and the rule that keeps traffic in it.
    var rack: RackLocality
    /// Which of the trackers (the configured or the torrent's, then the fallbacks) announces go to.
    var trackerChoice = 0

    var downloaded = RateMeter()
    /// Payload from each host over connections that closed (open ones count in their `Peer`).
    var closedDownloadByHost: [String: Int64] = [:]
    var fromSeedHosts: Int64 = 0
    var verifiedBytesAtFirstUpload: Int64?
    var uploaded = RateMeter()
    var verifiedBytes: Int64 = 0
    var hashFailures = 0
    /// Upload-side counters; the request-side ones are the scheduler's.
    var uploadStatistics = SwarmStatistics()
    let startedAt: NIODeadline
    /// Which 16 KiB blocks (by offset / block size) we have uploaded at least once.
    var uploadedOnce: Bitfield
    let completion: EventLoopPromise<Void>
    /// Succeeds once at least one piece is verified: from then on the session can serve others.
    let firstPiece: EventLoopPromise<Void>

    init(
        metainfo: Metainfo,
        storage: PieceStorage,
        have: Bitfield,
        configuration: TorrentConfiguration,
        loop: any EventLoop,
        threadPool: NIOThreadPool,
        logger: Logger,
        clock: @escaping @Sendable () -> NIODeadline = { .now() }
    ) {
        self.metainfo = metainfo
        self.storage = storage
        self.configuration = configuration
        self.loop = loop
        self.threadPool = threadPool
        self.clock = clock
        var logger = logger
        logger[metadataKey: "torrent.info_hash"] = "\(metainfo.infoHash.hex)"
        self.logger = logger
        var random = configuration.randomSeed.map(SwarmRandom.init(seed:)) ?? .fromSystem()
        var id = Array(TorrentVersion.peerIDPrefix.utf8)
        while id.count < 20 { id.append(UInt8(ascii: "a") + UInt8.random(in: 0..<26, using: &random)) }
        self.random = random
        self.peerID = id
        let now = clock()
        self.startedAt = now
        self.lastLimiterRound = now
        self.have = have
        let picker = PiecePicker(
            pieceCount: metainfo.pieceCount, pieceLength: metainfo.pieceLength, totalLength: metainfo.length
        )
        self.scheduler = RequestScheduler(
            picker: picker, minQueue: configuration.minRequestQueue, maxQueue: configuration.maxRequestQueue,
            horizon: configuration.requestHorizon, startedAt: now
        )
        self.choker = Choker(regularSlots: configuration.uploadSlots)
        offers = SuperSeedOffers(configuration: configuration, have: have)
        self.blame = PeerBlame(maxBadPieces: configuration.maxBadPieces)
        var timeouts = PeerTimeouts()
        timeouts.idle = .seconds(Int64(max(1, configuration.idleTimeout)))
        timeouts.starved = .seconds(Int64(max(1, configuration.idleTimeout)) * 2)
        timeouts.silence = .seconds(Int64(max(1, configuration.idleTimeout)) * 3)
        self.timeouts = timeouts
        self.webSeed = WebSeedFallback(urls: configuration.webSeeds ?? metainfo.webSeeds, name: metainfo.name)
        self.announcer = Announcer(complete: have.isComplete)
        self.rack = RackLocality(pieceCount: metainfo.pieceCount)
        self.limiter = configuration.uploadLimit.map { UploadLimiter(bytesPerSecond: $0) }
        self.completion = loop.makePromise(of: Void.self)
        self.firstPiece = loop.makePromise(of: Void.self)
        let blockSize = Int64(PiecePicker.blockSize)
        self.uploadedOnce = Bitfield(count: Int((metainfo.length + blockSize - 1) / blockSize))
        for index in 0..<metainfo.pieceCount where have.contains(index) {
            verifiedBytes += Int64(metainfo.size(ofPiece: index))
        }
        if have.isComplete { completion.succeed() }
        if have.setCount > 0 { firstPiece.succeed() }
    }

    /// Large reads: fewer syscalls when a fast peer streams blocks.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(
        minimum: 16 << 10, initial: 256 << 10, maximum: 1 << 20)

    /// Blocks wait in the peer's request queue, not in the channel: a cancel can still remove them there.
    static let writeWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 << 10, high: 64 << 10)

    /// SO_SNDBUF for peer connections; 0 leaves the kernel's autotuning (setting it turns autotuning off).
    private var sendBufferOption: SocketOptionValue { SocketOptionValue(configuration.sendBuffer ?? 0) }

    private var maxMessageLength: Int { max((128 << 10) + 13, (metainfo.pieceCount + 7) / 8 + 1) }

    // MARK: Lifecycle

    /// Starts listening, the timers, the tracker and the configured peers. Returns the bound port (or nil).
    func start() -> EventLoopFuture<Int?> {
        loop.assertInEventLoop()
        let listening: EventLoopFuture<Int?>
        if let host = configuration.listenHost {
            listening = ServerBootstrap(group: loop)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: Self.writeWaterMark)
                .childChannelOption(.recvAllocator, value: Self.receiveAllocator)
                .childChannelOption(.socketOption(.so_sndbuf), value: sendBufferOption)
                .childChannelInitializer { [self] channel in
                    let address = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                    return addHandlers(channel, outgoing: false, address: address)
                }
                .bind(host: host, port: configuration.listenPort)
                .map { [self] channel in
                    serverChannel = channel
                    return channel.localAddress?.port
                }
        } else {
            listening = loop.makeSucceededFuture(nil)
        }
        return listening.map { [self] port in
            startTimers()
            listenPort = port
            for target in configuration.peers { addPeer(target) }
            announce(event: .started)
            // Give peers a moment to show their bitfields before falling back to HTTP.
            loop.scheduleTask(in: .milliseconds(500)) { [self] in startWebFetches() }
            // The rack and super-seed settings too: a node that ignores them shows it here, not only in its traffic.
            logger.info(
                "torrent session started",
                metadata: [
                    "torrent.listen_port": "\(port.map(String.init) ?? "-")",
                    "torrent.rack": "\(configuration.rack ?? "-")",
                    "torrent.rack_preference": "\(configuration.rackPreference)",
                    "torrent.super_seed_in_flight": "\(offers == nil ? "-" : String(configuration.superSeedInFlight))",
                ])
            return port
        }
    }

    private func addHandlers(_ channel: any Channel, outgoing: Bool, address: String) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(PeerWireDecoder(maxMessageLength: maxMessageLength))
            )
            try channel.pipeline.syncOperations.addHandler(
                PeerChannelHandler(session: self, outgoing: outgoing, address: address)
            )
        }
    }

    private(set) var listenPort: Int?

    /// Where outgoing connections leave from: the listen address when it names one host. The tracker lists a peer
    /// at its announce's source address, and peers and the boot server count connections per source, so a node
    /// with several addresses must dial, announce and fetch from the one it listens on.
    var sourceAddress: SocketAddress? {
        guard let host = configuration.listenHost, host != "0.0.0.0", host != "::" else { return nil }
        return try? SocketAddress(ipAddress: host, port: 0)
    }

    /// Closes every connection and stops the timers.
    func stop() -> EventLoopFuture<Void> {
        loop.assertInEventLoop()
        guard !stopped else { return loop.makeSucceededVoidFuture() }
        stopped = true
        for timer in timers { timer.cancel() }
        timers = []
        announce(event: .stopped)
        let closes = peers.values.map { $0.channel.close() } + [serverChannel?.close()].compactMap { $0 }
        completion.fail(TorrentError(.stopped, "stopped before completion"))
        firstPiece.fail(TorrentError(.stopped, "stopped before the first piece"))
        return EventLoopFuture.andAllComplete(closes, on: loop)
    }

    // MARK: Dialing

    /// Adds `host:port` to the peers to keep dialling while we still need pieces.
    func addPeer(_ target: String) {
        loop.assertInEventLoop()
        guard let host = PeerTarget.host(of: target), !blame.isBanned(host) else { return }
        dialer.add(target)
        dial(target)
    }

    func dial(_ target: String) {
        guard !stopped, !dialing.contains(target), peers.count + dialing.count < configuration.maxConnections,
            peers.values.count(where: \.outgoing) + dialing.count < configuration.outgoingLimit,
            !peers.values.contains(where: { $0.outgoing && $0.address == target }),
            !(targetIDs[target].map { id in peers.values.contains { $0.remoteID == id } } ?? false),
            let host = PeerTarget.host(of: target), let port = PeerTarget.port(of: target)
        else { return }
        dialing.insert(target)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .bound(to: sourceAddress)
            .channelOption(.writeBufferWaterMark, value: Self.writeWaterMark)
            .channelOption(.recvAllocator, value: Self.receiveAllocator)
            .channelOption(.socketOption(.so_sndbuf), value: sendBufferOption)
            .channelInitializer { [self] channel in addHandlers(channel, outgoing: true, address: target) }
            .connect(host: host, port: port)
            .whenComplete { [self] result in
                dialing.remove(target)
                if case .failure(let error) = result {
                    dialer.failed(target, now: clock(), using: &random)
                    logger.debug("dial failed", metadata: ["peer.address": "\(target)", "error": "\(error)"])
                }
            }
    }

    // MARK: Connection events

    /// Admits a new connection, or closes it: stopped, a banned address, too many from its host, or full with no
    /// idle peer to make room.
    func connected(channel: any Channel, outgoing: Bool, address: String) -> Peer? {
        let host = channel.remoteAddress?.ipAddress ?? "?"
        let now = clock()
        let fromHost = peers.values.count { $0.host == host && !$0.outgoing }
        var refusal: String?
        if stopped {
            refusal = "stopped"
        } else if blame.isBanned(host) {
            refusal = "banned address"
        } else if !outgoing, fromHost >= configuration.maxConnectionsPerHost {
            refusal = "too many connections from its address"
        } else if peers.count >= configuration.maxConnections {
            let activities = peers.values.filter { $0.handshakeReceived }.map { ($0.key, $0.activity) }
            if let idle = timeouts.evictionCandidate(activities, now: now), let victim = peers[idle] {
                drop(victim, "idle, making room for a new peer")
            } else {
                refusal = "connections full"
            }
        }
        if let refusal {
            logger.debug("refusing peer", metadata: ["peer.address": "\(address)", "peer.reason": "\(refusal)"])
            channel.close(promise: nil)
            return nil
        }
        nextKey += 1
        let peer = Peer(
            key: PeerKey(nextKey), channel: channel, outgoing: outgoing, address: address, host: host,
            pieceCount: metainfo.pieceCount, now: now
        )
        peers[peer.key] = peer
        peer.requestSlot = scheduler.join(peer.key, now: now)
        // The share of imports is ranked by the address peers know us by (`RackLocality`).
        if rack.ownHost == nil { rack.ownHost = channel.localAddress?.ipAddress }
        if outgoing { sendHandshake(peer) }
        logger.debug("peer connected", metadata: ["peer.address": "\(address)", "peer.outgoing": "\(outgoing)"])
        return peer
    }

    func sendHandshake(_ peer: Peer) {
        var buffer = peer.channel.allocator.buffer(capacity: Handshake.size)
        Handshake(infoHash: metainfo.infoHash.bytes, peerID: peerID).write(into: &buffer)
        peer.channel.writeAndFlush(buffer, promise: nil)
    }

    func disconnected(_ peer: Peer) {
        guard peers.removeValue(forKey: peer.key) != nil else { return }
        peer.isOpen = false
        closedDownloadByHost[peer.host, default: 0] += peer.download.total
        forget(peer)
        logger.debug("peer disconnected", metadata: ["peer.address": "\(peer.address)"])
        // Others may now get the released blocks, and the pieces offered to it or only it had.
        for other in peers.values { requestBlocks(other) }
        offerPieces()
        fillUploadSlots()
    }

    func protocolError(_ peer: Peer, _ error: any Error) {
        logger.debug("closing peer", metadata: ["peer.address": "\(peer.address)", "error": "\(error)"])
    }

    func drop(_ peer: Peer, _ reason: String) {
        logger.info("dropping peer", metadata: ["peer.address": "\(peer.address)", "peer.reason": "\(reason)"])
        peer.channel.close(promise: nil)
        disconnected(peer)
    }

    // MARK: Progress

    var progress: TorrentProgress {
        var statistics = scheduler.statistics
        statistics.cancelsHonoured = uploadStatistics.cancelsHonoured
        statistics.uploadedBlocks = uploadStatistics.uploadedBlocks
        statistics.distinctUploadedBlocks = uploadStatistics.distinctUploadedBlocks
        var byHost = closedDownloadByHost
        for peer in peers.values where peer.download.total > 0 { byHost[peer.host, default: 0] += peer.download.total }
        var progress = TorrentProgress(
            verifiedPieces: have.setCount,
            pieceCount: metainfo.pieceCount,
            verifiedBytes: verifiedBytes,
            totalBytes: metainfo.length,
            downloadedBytes: downloaded.total,
            uploadedBytes: uploaded.total,
            peers: peers.values.count(where: \.handshakeReceived),
            downloadRate: downloaded.rate,
            uploadRate: uploaded.rate,
            hashFailures: hashFailures,
            bannedPeers: blame.banned.count,
            downloadedFromSeedHosts: fromSeedHosts,
            verifiedBytesAtFirstUpload: verifiedBytesAtFirstUpload,
            statistics: statistics
        )
        progress.downloadedByHost = byHost
        return progress
    }
}

/// Splits `host:port` peer targets (IPv6 as `[::1]:PORT`).
enum PeerTarget {
    static func host(of target: String) -> String? {
        guard let colon = target.lastIndex(of: ":") else { return nil }
        let host = String(target[..<colon].filter { $0 != "[" && $0 != "]" })
        return host.isEmpty ? nil : host
    }

    static func port(of target: String) -> Int? {
        guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        return port
    }
}
