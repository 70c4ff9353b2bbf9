import Logging
import NIOCore
import NIOPosix

/// One torrent's swarm engine: every peer connection, the picker, the choker and storage, confined to one event loop.
///
/// All mutable state is touched only on `loop`; the public `TorrentClient` hops onto it.
final class TorrentSession: @unchecked Sendable {
    let loop: any EventLoop
    let metainfo: Metainfo
    let storage: PieceStorage
    let configuration: TorrentConfiguration
    let peerID: [UInt8]
    let logger: Logger
    private let threadPool: NIOThreadPool

    private var picker: PiecePicker
    private var choker: Choker
    /// Set while super-seeding (a complete session with `superSeed` on).
    private var superSeeder: SuperSeeder?
    private var peers: [ObjectIdentifier: Peer] = [:]
    private var interestingCount: [ObjectIdentifier: Int] = [:]
    /// Peer ids (not connections: a reconnecting liar keeps its record) that sent blocks of each unverified piece.
    private var contributors: [Int: Set<[UInt8]>] = [:]
    /// Bad pieces each peer id was the sole source of.
    private var badPieces: [[UInt8]: Int] = [:]
    private var bannedIDs: Set<[UInt8]> = []
    private var dialTargets: Set<String> = []
    /// When each target may be dialled again, and its current backoff in milliseconds.
    private var redial: [String: (at: NIODeadline, backoff: Int64)] = [:]
    /// The peer id behind each dialled target, to skip targets already connected the other way.
    private var targetIDs: [String: [UInt8]] = [:]
    private var dialing: Set<String> = []
    private var generator = SystemRandomNumberGenerator()
    private var serverChannel: (any Channel)?
    private var timers: [RepeatedTask] = []
    private var uploadBucket: TokenBucket?
    private var ticks = 0
    private var chokeRounds = 0
    private var stopped = false
    private var nextAnnounce: NIODeadline?
    private var announcing = false
    private var completedAnnounced: Bool
    private var pendingCompleted = false

    private var webFetches: Set<Int> = []
    private var webSeedFailures = 0

    private var downloaded = RateMeter()
    private var fromSeedHosts: Int64 = 0
    private var verifiedBytesAtFirstUpload: Int64?
    private var uploaded = RateMeter()
    private var verifiedBytes: Int64 = 0
    private var hashFailures = 0
    private var statistics = SwarmStatistics()
    private let startedAt = NIODeadline.now()
    /// Which 16 KiB blocks (by offset / block size) we have uploaded at least once.
    private var uploadedOnce: [Bool]
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
        logger: Logger
    ) {
        self.metainfo = metainfo
        self.storage = storage
        self.configuration = configuration
        self.loop = loop
        self.threadPool = threadPool
        var logger = logger
        logger[metadataKey: "torrent.info_hash"] = "\(metainfo.infoHash.hex)"
        self.logger = logger
        var id = Array(TorrentVersion.peerIDPrefix.utf8)
        var random = SystemRandomNumberGenerator()
        while id.count < 20 { id.append(UInt8(ascii: "a") + UInt8.random(in: 0..<26, using: &random)) }
        self.peerID = id
        self.picker = PiecePicker(
            pieceCount: metainfo.pieceCount, pieceLength: metainfo.pieceLength, totalLength: metainfo.length, have: have
        )
        self.choker = Choker(regularSlots: configuration.uploadSlots)
        if configuration.superSeed, have.isComplete { superSeeder = SuperSeeder(pieceCount: metainfo.pieceCount) }
        self.uploadBucket = configuration.uploadLimit.map { TokenBucket(bytesPerSecond: $0) }
        self.completion = loop.makePromise(of: Void.self)
        self.firstPiece = loop.makePromise(of: Void.self)
        let blockSize = Int64(PiecePicker.blockSize)
        self.uploadedOnce = [Bool](repeating: false, count: Int((metainfo.length + blockSize - 1) / blockSize))
        self.completedAnnounced = have.isComplete
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
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(PeerWireDecoder(maxMessageLength: maxMessageLength))
                        )
                        try channel.pipeline.syncOperations.addHandler(
                            PeerChannelHandler(session: self, outgoing: false, address: address)
                        )
                    }
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
            timers.append(
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in tick() })
            // Redial sooner than the one-second tick when a backoff is short.
            timers.append(
                loop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { [self] _ in
                    redialDue()
                }
            )
            if uploadBucket != nil {
                timers.append(
                    loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { [self] _ in
                        uploadBucket?.refill(seconds: 0.05)
                        for peer in peers.values where peer.pendingIncoming > 0 { serveRequests(peer) }
                    }
                )
            }
            listenPort = port
            for target in configuration.peers { addPeer(target) }
            announce(event: "started")
            // Give peers a moment to show their bitfields before falling back to HTTP.
            loop.scheduleTask(in: .milliseconds(500)) { [self] in startWebFetches() }
            logger.info("torrent session started", metadata: ["torrent.listen_port": "\(port.map(String.init) ?? "-")"])
            return port
        }
    }

    private(set) var listenPort: Int?

    /// Closes every connection and stops the timers.
    func stop() -> EventLoopFuture<Void> {
        loop.assertInEventLoop()
        guard !stopped else { return loop.makeSucceededVoidFuture() }
        stopped = true
        for timer in timers { timer.cancel() }
        timers = []
        announce(event: "stopped")
        let closes = peers.values.map { $0.channel.close() } + [serverChannel?.close()].compactMap { $0 }
        completion.fail(TorrentError(code: .stopped, detail: "stopped before completion"))
        firstPiece.fail(TorrentError(code: .stopped, detail: "stopped before the first piece"))
        return EventLoopFuture.andAllComplete(closes, on: loop)
    }

    // MARK: Dialing

    /// Adds `host:port` to the peers to keep dialling while we still need pieces.
    func addPeer(_ target: String) {
        loop.assertInEventLoop()
        dialTargets.insert(target)
        dial(target)
    }

    private func dial(_ target: String) {
        guard !stopped, !dialing.contains(target), peers.count + dialing.count < configuration.maxConnections,
            !peers.values.contains(where: { $0.outgoing && $0.address == target }),
            !(targetIDs[target].map { id in peers.values.contains { $0.remoteID == id } } ?? false),
            let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...])
        else { return }
        let host = String(target[..<colon].filter { $0 != "[" && $0 != "]" })
        dialing.insert(target)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.writeBufferWaterMark, value: Self.writeWaterMark)
            .channelOption(.recvAllocator, value: Self.receiveAllocator)
            .channelOption(.socketOption(.so_sndbuf), value: sendBufferOption)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(PeerWireDecoder(maxMessageLength: maxMessageLength))
                    )
                    try channel.pipeline.syncOperations.addHandler(
                        PeerChannelHandler(session: self, outgoing: true, address: target)
                    )
                }
            }
            .connect(host: host, port: port)
            .whenComplete { [self] result in
                dialing.remove(target)
                if case .failure(let error) = result {
                    backOff(target)
                    logger.debug("dial failed", metadata: ["peer.address": "\(target)", "error": "\(error)"])
                }
            }
    }

    /// Delays the next dial of `target`: 250 ms doubling to 30 s, plus up to 20% jitter; reset once it sends data.
    private func backOff(_ target: String) {
        let backoff = min(30_000, (redial[target]?.backoff ?? 0) * 2 + 250)
        let jitter = Int64.random(in: 0...(backoff / 5), using: &generator)
        redial[target] = (.now() + .milliseconds(backoff + jitter), backoff)
    }

    // MARK: Connection events

    func connected(channel: any Channel, outgoing: Bool, address: String) -> Peer? {
        guard !stopped, peers.count < configuration.maxConnections else {
            channel.close(promise: nil)
            return nil
        }
        let host = channel.remoteAddress?.ipAddress ?? "?"
        let peer = Peer(
            channel: channel, outgoing: outgoing, address: address, host: host,
            pieceCount: metainfo.pieceCount, queueDepth: configuration.minRequestQueue
        )
        peers[peer.id] = peer
        interestingCount[peer.id] = 0
        if outgoing { sendHandshake(peer) }
        logger.debug("peer connected", metadata: ["peer.address": "\(address)", "peer.outgoing": "\(outgoing)"])
        return peer
    }

    private func sendHandshake(_ peer: Peer) {
        var buffer = peer.channel.allocator.buffer(capacity: Handshake.size)
        Handshake(infoHash: metainfo.infoHash.bytes, peerID: peerID).write(into: &buffer)
        peer.channel.writeAndFlush(buffer, promise: nil)
    }

    func disconnected(_ peer: Peer) {
        guard peers.removeValue(forKey: peer.id) != nil else { return }
        interestingCount[peer.id] = nil
        superSeeder?.withdrawn(peer.offered)
        picker.peerRemoved(peer.has)
        picker.peerGone(peer.id)
        if peer.outgoing { backOff(peer.address) }
        for request in peer.outstanding { picker.released(request) }
        peer.outstanding = []
        peer.requestedAt = [:]
        logger.debug("peer disconnected", metadata: ["peer.address": "\(peer.address)"])
        // Others may now get the released blocks, and the pieces offered to it or only it had.
        for other in peers.values { requestBlocks(other) }
        offerPieces()
        fillUploadSlots()
    }

    func protocolError(_ peer: Peer, _ error: any Error) {
        logger.debug("closing peer", metadata: ["peer.address": "\(peer.address)", "error": "\(error)"])
    }

    private func drop(_ peer: Peer, _ reason: String) {
        logger.info("dropping peer", metadata: ["peer.address": "\(peer.address)", "peer.reason": "\(reason)"])
        peer.channel.close(promise: nil)
        disconnected(peer)
    }

    // MARK: Messages

    func received(_ event: PeerWireEvent, from peer: Peer) {
        guard peers[peer.id] != nil else { return }
        peer.lastMessageAt = .now()
        switch event {
        case .handshake(let handshake):
            handle(handshake, from: peer)
        case .message(let message):
            handle(message, from: peer)
            peer.messagesSinceHandshake += 1
        }
    }

    private func handle(_ handshake: Handshake, from peer: Peer) {
        guard handshake.infoHash == metainfo.infoHash.bytes else { return drop(peer, "wrong info-hash") }
        guard handshake.peerID != peerID else { return drop(peer, "connected to ourselves") }
        guard !bannedIDs.contains(handshake.peerID) else { return drop(peer, "banned") }
        if peers.values.contains(where: { $0 !== peer && $0.handshakeReceived && $0.remoteID == handshake.peerID }) {
            if peer.outgoing { targetIDs[peer.address] = handshake.peerID }
            return drop(peer, "duplicate connection")
        }
        peer.handshakeReceived = true
        peer.remoteID = handshake.peerID
        if peer.outgoing { targetIDs[peer.address] = handshake.peerID }
        if !peer.outgoing { sendHandshake(peer) }
        if superSeeder != nil {
            // A super-seed serves every peer (its offers decide what goes where), so nothing waits on a choke.
            setChoking(peer, false)
            offerPieces()
        } else if picker.have.setCount > 0 {
            var bits = peer.channel.allocator.buffer(capacity: picker.have.bytes.count)
            bits.writeBytes(picker.have.bytes)
            peer.send(.bitfield(bits))
        }
    }

    private func handle(_ message: PeerMessage, from peer: Peer) {
        // BEP 3 wants the bitfield first; aria2 sends it later too, so any bitfield replaces the peer's set.
        switch message {
        case .keepAlive, .port, .suggest, .allowedFast, .unknown:
            break
        case .choke:
            peer.peerChoking = true
            for request in peer.outstanding { picker.released(request) }
            peer.outstanding = []
            peer.requestedAt = [:]
        case .unchoke:
            peer.peerChoking = false
        case .interested:
            peer.peerInterested = true
            fillUploadSlots()
        case .notInterested:
            peer.peerInterested = false
            fillUploadSlots()
        case .have(let index):
            guard Int(index) < metainfo.pieceCount else { return drop(peer, "have past the end") }
            if peer.has.insert(Int(index)) {
                picker.peerHas(Int(index))
                if !picker.have.contains(Int(index)) { interestingCount[peer.id, default: 0] += 1 }
                updateInterest(peer)
                if peer.offered.remove(Int(index)) != nil {
                    peer.forgetOffers([Int(index)])
                    superSeeder?.delivered(Int(index))
                    peer.deliveredOffers += 1
                    offerPieces()
                }
            }
        case .bitfield(let buffer):
            guard let bits = Bitfield(wire: Array(buffer.readableBytesView), count: metainfo.pieceCount) else {
                return drop(peer, "bad bitfield")
            }
            setBitfield(peer, bits)
        case .haveAll:
            setBitfield(peer, Bitfield(count: metainfo.pieceCount, allSet: true))
        case .haveNone:
            setBitfield(peer, Bitfield(count: metainfo.pieceCount))
        case .request(let request):
            guard validRequest(request), picker.have.contains(Int(request.piece)) else {
                return drop(peer, "invalid request")
            }
            guard !peer.amChoking else { return }
            guard peer.pendingIncoming < 2048 else { return drop(peer, "request flood") }
            peer.incoming.append(request)
        case .cancel(let request):
            if let position = peer.incoming[peer.incomingHead...].firstIndex(of: request) {
                peer.incoming.remove(at: position)
                statistics.cancelsHonoured += 1
            }
        case .reject(let request):
            if peer.outstanding.remove(request) != nil {
                peer.requestedAt[request] = nil
                picker.released(request)
            }
        case .piece(let index, let begin, let block):
            let request = BlockRequest(piece: index, begin: begin, length: UInt32(block.readableBytes))
            guard validRequest(request) else { return drop(peer, "piece past the end") }
            receivedBlock(request, block, from: peer)
        }
    }

    private func validRequest(_ request: BlockRequest) -> Bool {
        let index = Int(request.piece)
        guard index < metainfo.pieceCount, request.length > 0, request.length <= 128 << 10 else { return false }
        return Int(request.begin) + Int(request.length) <= metainfo.size(ofPiece: index)
    }

    private func setBitfield(_ peer: Peer, _ bits: Bitfield) {
        // Offers of pieces the peer already had were not sends: offer those pieces to others again.
        let had = peer.offered.filter { bits.contains($0) }
        superSeeder?.withdrawn(had)
        peer.offered.subtract(had)
        peer.forgetOffers(had)
        picker.peerRemoved(peer.has)
        peer.has = bits
        picker.peerAdded(bits)
        var count = 0
        for index in 0..<metainfo.pieceCount where bits.contains(index) && !picker.have.contains(index) { count += 1 }
        interestingCount[peer.id] = count
        if bits.isComplete, picker.have.isComplete {
            if peer.outgoing { dialTargets.remove(peer.address) }
            return drop(peer, "both seeds")
        }
        updateInterest(peer)
        offerPieces()
    }

    /// Super-seeding: keeps up to `superSeedInFlight` offers out across all peers (at most `superSeedOffers` each),
    /// each to the peer holding the fewest offers, then the one that got the fewest from us. Few pieces in flight
    /// means each leaves the seed fast, at a large share of its upload, and peers can pass it on sooner.
    /// Called on every event that frees an offer, and when a peer's copy goes away.
    private func offerPieces() {
        guard superSeeder != nil else { return }
        var inFlight = peers.values.reduce(0) { $0 + $1.offered.count }
        var skipped: Set<ObjectIdentifier> = []
        while inFlight < configuration.superSeedInFlight {
            let eligible = peers.values.filter {
                $0.handshakeReceived && $0.offered.count < configuration.superSeedOffers && !skipped.contains($0.id)
            }
            guard
                let peer = eligible.min(by: {
                    ($0.offered.count, $0.deliveredOffers) < ($1.offered.count, $1.deliveredOffers)
                })
            else { break }
            guard
                let index = superSeeder?.next(peerHas: peer.has, held: peer.offered, availability: picker.availability)
            else {
                skipped.insert(peer.id)
                continue
            }
            peer.offered.insert(index)
            peer.offeredAt[index] = .now()
            peer.send(.have(piece: UInt32(index)))
            inFlight += 1
        }
    }

    /// Frees offers a peer sat on for `superSeedOfferTimeout` seconds (no block of them asked for since the offer or
    /// the last block sent), so that others get those pieces instead.
    private func expireOffers(_ now: NIODeadline) {
        guard superSeeder != nil else { return }
        let timeout = TimeAmount.seconds(Int64(configuration.superSeedOfferTimeout))
        var expired = false
        for peer in peers.values {
            let stale = peer.offered.filter { now - (peer.offeredAt[$0] ?? now) > timeout }
            guard !stale.isEmpty else { continue }
            superSeeder?.withdrawn(stale)
            peer.offered.subtract(stale)
            peer.forgetOffers(stale)
            expired = true
        }
        if expired { offerPieces() }
    }

    private func updateInterest(_ peer: Peer) {
        let interesting = (interestingCount[peer.id] ?? 0) > 0
        if interesting != peer.amInterested {
            peer.amInterested = interesting
            peer.send(interesting ? .interested : .notInterested)
        }
    }

    /// Unchokes interested peers while fewer than `uploadSlots + 1` interested peers are unchoked, so that a slot
    /// freed by a peer that finished or left goes to a waiting peer at once, not at the next choke round (which left
    /// the last node of a 32-node lab run idle for 10 s).
    private func fillUploadSlots() {
        var open = configuration.uploadSlots + 1 - peers.values.count(where: { !$0.amChoking && $0.peerInterested })
        for peer in peers.values where open > 0 && peer.handshakeReceived && peer.amChoking && peer.peerInterested {
            setChoking(peer, false)
            open -= 1
        }
    }

    private func setChoking(_ peer: Peer, _ choking: Bool) {
        guard peer.amChoking != choking else { return }
        peer.amChoking = choking
        if choking {
            peer.incoming.removeAll()
            peer.incomingHead = 0
        }
        peer.send(choking ? .choke : .unchoke)
    }

    // MARK: Downloading

    private func receivedBlock(_ request: BlockRequest, _ block: ByteBuffer, from peer: Peer) {
        peer.download.add(block.readableBytes)
        downloaded.add(block.readableBytes)
        if configuration.seedHosts.contains(peer.host) { fromSeedHosts += Int64(block.readableBytes) }
        peer.lastBlockAt = .now()
        if peer.outgoing, redial[peer.address] != nil { redial[peer.address] = nil }
        guard peer.outstanding.remove(request) != nil else { return countDuplicate(block.readableBytes) }
        if let sent = peer.requestedAt.removeValue(forKey: request) {
            let seconds = Double((NIODeadline.now() - sent).nanoseconds) / 1e9
            statistics.answeredRequests += 1
            statistics.requestSecondsTotal += seconds
            statistics.requestSecondsMax = max(statistics.requestSecondsMax, seconds)
        }
        let (isNew, complete) = picker.received(request)
        guard isNew else { return countDuplicate(block.readableBytes) }
        let index = Int(request.piece)
        do {
            try block.withUnsafeReadableBytes { bytes in
                try storage.write(bytes, at: metainfo.offset(ofPiece: index) + Int64(request.begin))
            }
        } catch {
            logger.error("write failed", metadata: ["error": "\(error)"])
            completion.fail(TorrentError(code: .storage, detail: "\(error)"))
            return
        }
        contributors[index, default: []].insert(peer.remoteID)
        // Endgame: others asked for the same block; cancel theirs.
        for other in peers.values where other !== peer && other.outstanding.remove(request) != nil {
            other.requestedAt[request] = nil
            other.send(.cancel(request), flush: false)
            other.channel.flush()
            statistics.cancelsSent += 1
        }
        if complete { verify(index) }
    }

    private func countDuplicate(_ bytes: Int) {
        statistics.duplicateBlocks += 1
        statistics.duplicateBytes += Int64(bytes)
    }

    private func verify(_ index: Int) {
        let storage = self.storage
        let offset = metainfo.offset(ofPiece: index)
        let size = metainfo.size(ofPiece: index)
        let expected = metainfo.pieceHashes[index]
        threadPool.runIfActive(eventLoop: loop) {
            try storage.verify(offset: offset, size: size, expected: expected)
        }.whenComplete { [self] result in
            pieceChecked(index, passed: (try? result.get()) ?? false)
        }
    }

    private func pieceChecked(_ index: Int, passed: Bool) {
        let sources = contributors.removeValue(forKey: index) ?? []
        guard passed else {
            // Blame only a sole source; a piece from several peers is fetched again from one to find the liar.
            picker.failed(index, solo: sources.count > 1)
            hashFailures += 1
            if sources.isEmpty { webSeedFailures += 1 }
            logger.warning(
                "piece failed its hash check",
                metadata: ["piece.index": "\(index)", "piece.sources": "\(sources.count)"]
            )
            if sources.count == 1, let liar = sources.first {
                let count = (badPieces[liar] ?? 0) + 1
                badPieces[liar] = count
                if count >= configuration.maxBadPieces {
                    bannedIDs.insert(liar)
                    for peer in peers.values where peer.remoteID == liar {
                        dialTargets.remove(peer.address)
                        drop(peer, "sent \(count) bad pieces")
                    }
                    for (target, id) in targetIDs where id == liar { dialTargets.remove(target) }
                }
            }
            for peer in peers.values { requestBlocks(peer) }
            return
        }
        picker.verified(index)
        verifiedBytes += Int64(metainfo.size(ofPiece: index))
        if picker.have.setCount == 1 { firstPiece.succeed() }
        for peer in peers.values where peer.handshakeReceived {
            if peer.has.contains(index) {
                interestingCount[peer.id, default: 1] -= 1
                updateInterest(peer)
            }
            peer.send(.have(piece: UInt32(index)), flush: false)
            peer.channel.flush()
        }
        if picker.have.isComplete {
            storage.sync()
            logger.info("download complete", metadata: ["torrent.bytes": "\(metainfo.length)"])
            completion.succeed()
            announce(event: "completed")
            for peer in peers.values where peer.has.isComplete {
                if peer.outgoing { dialTargets.remove(peer.address) }
                drop(peer, "both seeds")
            }
        }
    }

    /// Keeps the peer's request pipeline full.
    private func requestBlocks(_ peer: Peer) {
        // A peer dropped earlier in this read must not take blocks: nothing would release them.
        guard peers[peer.id] != nil, peer.handshakeReceived, !peer.peerChoking, peer.amInterested,
            !picker.have.isComplete
        else { return }
        let room = peer.queueDepth - peer.outstanding.count
        guard room > 0, peer.outstanding.count <= peer.queueDepth / 2 || room >= 8 else { return }
        let endgameBefore = picker.endgameRequests
        let picks = picker.pick(peer: peer.id, peerHas: peer.has, limit: room, outstanding: peer.outstanding)
        guard !picks.isEmpty else { return }
        if picker.endgameRequests > endgameBefore {
            statistics.endgameRequests = picker.endgameRequests
            if statistics.endgameAfter == nil {
                statistics.endgameAfter = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
            }
        }
        let now = NIODeadline.now()
        if peer.outstanding.isEmpty { peer.lastBlockAt = now }
        for request in picks {
            peer.outstanding.insert(request)
            peer.requestedAt[request] = now
            peer.send(.request(request), flush: false)
        }
        peer.channel.flush()
    }

    func readComplete(_ peer: Peer) {
        requestBlocks(peer)
        serveRequests(peer)
    }

    // MARK: Uploading

    /// Sends requested blocks while the channel takes them (and the upload cap allows).
    func serveRequests(_ peer: Peer) {
        guard !peer.amChoking, peers[peer.id] != nil else { return }
        var wrote = false
        while peer.channel.isWritable, peer.incomingHead < peer.incoming.count {
            let request = peer.incoming[peer.incomingHead]
            let length = Int(request.length)
            if uploadBucket != nil, !(uploadBucket?.take(length) ?? true) { break }
            _ = peer.popIncoming()
            var buffer = peer.channel.allocator.buffer(capacity: 13 + length)
            buffer.writeInteger(UInt32(9 + length))
            buffer.writeInteger(UInt8(7))
            buffer.writeInteger(request.piece)
            buffer.writeInteger(request.begin)
            do {
                let offset = metainfo.offset(ofPiece: Int(request.piece)) + Int64(request.begin)
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { target in
                    try storage.read(into: UnsafeMutableRawBufferPointer(rebasing: target[0..<length]), at: offset)
                    return length
                }
            } catch {
                logger.error("read failed", metadata: ["error": "\(error)"])
                return drop(peer, "storage read failed")
            }
            peer.channel.write(buffer, promise: nil)
            statistics.uploadedBlocks += 1
            let index = Int(request.piece)
            let block = Int((metainfo.offset(ofPiece: index) + Int64(request.begin)) / Int64(PiecePicker.blockSize))
            if block < uploadedOnce.count, !uploadedOnce[block] {
                uploadedOnce[block] = true
                statistics.distinctUploadedBlocks += 1
            }
            // An offer being served is not one the peer sits on.
            if superSeeder != nil, peer.offered.contains(index) { peer.offeredAt[index] = .now() }
            peer.upload.add(length)
            if uploaded.total == 0 { verifiedBytesAtFirstUpload = verifiedBytes }
            uploaded.add(length)
            wrote = true
        }
        if wrote { peer.channel.flush() }
    }

    // MARK: Timers

    private func tick() {
        guard !stopped else { return }
        ticks += 1
        let now = NIODeadline.now()
        downloaded.tick()
        uploaded.tick()
        for peer in Array(peers.values) {
            peer.download.tick()
            peer.upload.tick()
            peer.queueDepth = configuration.requestQueueDepth(forRate: peer.download.rate)
            if !peer.handshakeReceived, now - peer.connectedAt > .seconds(10) {
                drop(peer, "no handshake")
            } else if !peer.outstanding.isEmpty, now - peer.lastBlockAt > .seconds(30) {
                drop(peer, "requests timed out")
            } else if now - peer.lastMessageAt > .seconds(180) {
                drop(peer, "idle")
            } else if ticks % 60 == 0 {
                peer.send(.keepAlive)
            } else {
                requestBlocks(peer)
            }
        }
        expireOffers(now)
        if ticks % configuration.chokeInterval == 0 {
            chokeRounds += 1
            chokeRound(rotate: chokeRounds % configuration.optimisticEveryRounds == 0)
        }
        if let nextAnnounce, now >= nextAnnounce { announce(event: nil) }
        startWebFetches()
    }

    // MARK: Web seed (BEP 19)

    private var webSeedURLs: [String] { configuration.webSeeds ?? metainfo.webSeeds }

    /// Fetches pieces that no connected peer has from an HTTP web seed, two at a time.
    private func startWebFetches() {
        guard !stopped, !picker.have.isComplete, webSeedFailures < 5, !webSeedURLs.isEmpty else { return }
        for index in picker.orphans(limit: 2 - webFetches.count) {
            let base = webSeedURLs[Int.random(in: 0..<webSeedURLs.count, using: &generator)]
            let url = base.hasSuffix("/") ? base + URLQuery.percentEncodePath(metainfo.name) : base
            guard let target = HTTPURL(url) else {
                webSeedFailures = 5
                return
            }
            picker.reserve(index)
            webFetches.insert(index)
            let offset = metainfo.offset(ofPiece: index)
            let size = metainfo.size(ofPiece: index)
            HTTPGet.fetch(
                host: target.host, port: target.port, path: target.path,
                range: offset...(offset + Int64(size) - 1), maxBytes: size, on: loop
            ).whenComplete { [self] result in
                webFetches.remove(index)
                guard !stopped else { return }
                switch result {
                case .success(let body) where body.count == size:
                    downloaded.add(size)
                    fromSeedHosts += Int64(size)
                    do {
                        try body.withUnsafeBytes { try storage.write($0, at: offset) }
                    } catch {
                        completion.fail(TorrentError(code: .storage, detail: "\(error)"))
                        return
                    }
                    verify(index)
                    startWebFetches()
                case .success, .failure:
                    webSeedFailures += 1
                    picker.failed(index, solo: false)
                    logger.info(
                        "web seed fetch failed", metadata: ["piece.index": "\(index)", "webseed.url": "\(url)"])
                }
            }
        }
    }

    /// Dials every target whose backoff has passed. Seeds dial too (a leecher may not accept yet); targets known
    /// to be seeds were dropped from the list.
    private func redialDue() {
        guard !stopped else { return }
        let now = NIODeadline.now()
        for target in dialTargets where (redial[target]?.at ?? now) <= now { dial(target) }
    }

    private func chokeRound(rotate: Bool) {
        guard superSeeder == nil else {
            for peer in peers.values where peer.handshakeReceived { setChoking(peer, false) }
            return
        }
        let seeding = picker.have.isComplete
        let candidates = peers.values.filter(\.handshakeReceived).map { peer in
            Choker.Candidate(
                id: peer.id, interested: peer.peerInterested, rate: seeding ? peer.upload.rate : peer.download.rate
            )
        }
        let unchoke = choker.round(candidates, rotateOptimistic: rotate, using: &generator)
        for peer in peers.values where peer.handshakeReceived {
            setChoking(peer, !unchoke.contains(peer.id))
        }
    }

    // MARK: Tracker

    private var trackerURL: String? {
        if let url = configuration.trackerURL { return url.isEmpty ? nil : url }
        return metainfo.announce
    }

    private func announce(event: String?) {
        guard let url = trackerURL else { return }
        if event == "completed" {
            guard !completedAnnounced else { return }
            completedAnnounced = true
        }
        // One announce at a time; a `completed` that arrives meanwhile goes out right after.
        guard !announcing || event == "stopped" else {
            if event == "completed" { pendingCompleted = true }
            return
        }
        let request = AnnounceRequest(
            infoHash: metainfo.infoHash.bytes,
            peerID: peerID,
            port: configuration.announcedPort ?? listenPort ?? 0,
            uploaded: uploaded.total,
            downloaded: downloaded.total,
            left: metainfo.length - verifiedBytes,
            event: event.flatMap(AnnounceRequest.Event.init(rawValue:)),
            numWant: 50,
            rack: configuration.rack,
            // A peer bound to one address says so: the tracker then hands out (and places in a rack) the
            // address other peers can reach, not the one the announce happened to come from.
            ip: configuration.listenHost.flatMap { $0 == "0.0.0.0" || $0 == "::" || $0.isEmpty ? nil : $0 }
        )
        announcing = true
        nextAnnounce = nil
        TrackerClient.announce(url: url, request: request, on: loop).whenComplete { [self] result in
            announcing = false
            guard !stopped else { return }
            if pendingCompleted {
                pendingCompleted = false
                completedAnnounced = false
                announce(event: "completed")
            }
            switch result {
            case .success(let response):
                nextAnnounce = .now() + .seconds(Int64(max(10, response.interval)))
                logger.debug("announced", metadata: ["tracker.peers": "\(response.peers.count)"])
                for peer in response.peers where !picker.have.isComplete {
                    addPeer("\(peer.host):\(peer.port)")
                }
            case .failure(let error):
                nextAnnounce = .now() + .seconds(15)
                logger.info("announce failed", metadata: ["tracker.url": "\(url)", "error": "\(error)"])
            }
        }
    }

    // MARK: Progress

    var progress: TorrentProgress {
        TorrentProgress(
            verifiedPieces: picker.have.setCount,
            pieceCount: metainfo.pieceCount,
            verifiedBytes: verifiedBytes,
            totalBytes: metainfo.length,
            downloadedBytes: downloaded.total,
            uploadedBytes: uploaded.total,
            peers: peers.values.count(where: \.handshakeReceived),
            downloadRate: downloaded.rate,
            uploadRate: uploaded.rate,
            hashFailures: hashFailures,
            bannedPeers: bannedIDs.count,
            downloadedFromSeedHosts: fromSeedHosts,
            verifiedBytesAtFirstUpload: verifiedBytesAtFirstUpload,
            statistics: statistics
        )
    }
}
