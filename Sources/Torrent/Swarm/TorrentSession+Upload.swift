import Logging
import NIOCore

/// The session drives its peers with the wiring it shares with the simulator (`SwarmDriver`).
extension TorrentSession: SwarmDriver {
    var currentTime: NIODeadline { clock() }

    func signal(_ signal: DriverSignal, to peer: Peer) {
        switch signal {
        case .choke: peer.send(.choke)
        case .unchoke: peer.send(.unchoke)
        case .interested: peer.send(.interested)
        case .notInterested: peer.send(.notInterested)
        case .keepAlive: peer.send(.keepAlive)
        case .have(let piece): peer.send(.have(piece: UInt32(piece)))
        }
    }
}

/// Blocks out, the timers, the web seed and the tracker.
extension TorrentSession {
    // MARK: Uploading

    /// Sends requested blocks while the channel takes them, up to `budget` bytes (the limiter's fair share).
    func serveRequests(_ peer: Peer, budget: Int = .max) {
        guard !peer.amChoking, peers[peer.key] != nil else { return }
        var wrote = 0
        while peer.channel.isWritable, peer.incomingHead < peer.incoming.count, wrote < budget {
            let request = peer.incoming[peer.incomingHead]
            let length = Int(request.length)
            if limiter != nil, !(limiter?.take(length) ?? true) { break }
            _ = peer.popIncoming()
            var buffer = peer.channel.allocator.buffer(capacity: 13 + length)
            buffer.writeInteger(UInt32(9 + length))
            buffer.writeInteger(UInt8(7))
            buffer.writeInteger(request.piece)
            buffer.writeInteger(request.begin)
            let index = Int(request.piece)
            let offset = metainfo.offset(ofPiece: index) + Int64(request.begin)
            do {
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { target in
                    try storage.read(into: UnsafeMutableRawBufferPointer(rebasing: target[0..<length]), at: offset)
                    return length
                }
            } catch {
                logger.error("read failed", metadata: ["error": "\(error)"])
                return drop(peer, "storage read failed")
            }
            peer.channel.write(buffer, promise: nil)
            uploadStatistics.uploadedBlocks += 1
            if uploadedOnce.insert(Int(offset / Int64(PiecePicker.blockSize))) {
                uploadStatistics.distinctUploadedBlocks += 1
            }
            // An offer being served is not one the peer sits on.
            offers?.served(peer.key, piece: index, now: clock())
            peer.upload.add(length)
            if uploaded.total == 0 { verifiedBytesAtFirstUpload = verifiedBytes }
            uploaded.add(length)
            wrote += length
        }
        if wrote > 0 { peer.channel.flush() }
    }

    /// One round of the upload limiter: the tokens earned since the last round, shared among waiting peers.
    func limiterRound() {
        let now = clock()
        let waiting = peers.values.filter { !$0.amChoking && $0.pendingIncoming > 0 }.map(\.key)
        let shares = limiter?.shares(waiting: waiting, elapsed: now - lastLimiterRound) ?? []
        lastLimiterRound = now
        for share in shares {
            if let peer = peers[share.peer] { serveRequests(peer, budget: share.bytes) }
        }
    }

    // MARK: Timers

    func startTimers() {
        timers.append(loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in tick() })
        // Redial sooner than the one-second tick when a backoff is short.
        timers.append(
            loop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { [self] _ in
                guard !stopped else { return }
                for target in dialer.due(now: clock()) { dial(target) }
            }
        )
        if limiter != nil {
            timers.append(
                loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { [self] _ in
                    limiterRound()
                }
            )
        }
    }

    private func tick() {
        guard !stopped else { return }
        downloaded.tick()
        uploaded.tick()
        for peer in peers.values { peer.chatter = 0 }
        tickPeers()
        if announcer.isDue(now: clock()) { announce(event: nil) }
        startWebFetches()
    }

    // MARK: Web seed (BEP 19)

    /// Fetches pieces that no connected peer has from an HTTP web seed.
    func startWebFetches() {
        guard !stopped, !have.isComplete, webSeed.room > 0 else { return }
        let orphans = scheduler.orphans(have: have, limit: webSeed.room)
        for fetch in webSeed.start(orphans: orphans, using: &random) {
            scheduler.reserve(fetch.piece)
            let offset = metainfo.offset(ofPiece: fetch.piece)
            let size = metainfo.size(ofPiece: fetch.piece)
            HTTPGet.fetch(
                host: fetch.host, port: fetch.port, path: fetch.path,
                range: offset...(offset + Int64(size) - 1), maxBytes: size, from: sourceAddress, on: loop
            ).whenComplete { [self] result in
                guard !stopped else { return }
                guard case .success(let body) = result, body.count == size else {
                    webSeed.finished(fetch.piece, ok: false)
                    scheduler.failed(fetch.piece, solo: false)
                    logger.info(
                        "web seed fetch failed",
                        metadata: ["piece.index": "\(fetch.piece)", "webseed.url": "\(fetch.url)"]
                    )
                    return
                }
                webSeed.finished(fetch.piece, ok: true)
                downloaded.add(size)
                fromSeedHosts += Int64(size)
                do {
                    try body.withUnsafeBytes { try storage.write($0, at: offset) }
                } catch {
                    completion.fail(TorrentError(.storage, "\(error)"))
                    return
                }
                verify(fetch.piece)
                startWebFetches()
            }
        }
    }

    // MARK: Tracker

    private var trackerURL: String? {
        let first = configuration.trackerURL.map { $0.isEmpty ? nil : $0 } ?? metainfo.announce
        let trackers = (first.map { [$0] } ?? []) + configuration.fallbackTrackers
        return trackers.isEmpty ? nil : trackers[trackerChoice % trackers.count]
    }

    func announce(event: AnnounceRequest.Event?) {
        guard let url = trackerURL, announcer.begin(event) else { return }
        let request = AnnounceRequest(
            infoHash: metainfo.infoHash.bytes,
            peerID: peerID,
            port: configuration.announcedPort ?? listenPort ?? 0,
            uploaded: uploaded.total,
            downloaded: downloaded.total,
            left: metainfo.length - verifiedBytes,
            event: event,
            numWant: 50,
            rack: configuration.rack
        )
        TrackerClient.announce(url: url, request: request, from: sourceAddress, on: loop).whenComplete { [self] result in
            let interval = try? result.get().interval
            let sendCompleted = announcer.finished(interval: interval, now: clock())
            guard !stopped else { return }
            if sendCompleted { announce(event: .completed) }
            switch result {
            case .success(let response):
                logger.debug("announced", metadata: ["tracker.peers": "\(response.peers.count)"])
                learnRack(response.rackPeers.map(\.host) + response.rackHosts, keep: response.keepInRack)
                for peer in response.peers where !have.isComplete { addPeer("\(peer.host):\(peer.port)") }
            case .failure(let error):
                logger.info("announce failed", metadata: ["tracker.url": "\(url)", "error": "\(error)"])
                // The next announce goes to the next tracker, if there is another: at once, until each was tried.
                if !configuration.fallbackTrackers.isEmpty && trackerURL == url {
                    trackerChoice += 1
                    if trackerChoice % (configuration.fallbackTrackers.count + 1) != 0 {
                        announce(event: event == .completed ? nil : event)
                    }
                }
            }
        }
    }
}
