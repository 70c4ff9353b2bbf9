import Logging
import NIOCore

/// Blocks out, choking and super-seed offers, the timers, the web seed and the tracker.
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

    func candidate(_ peer: Peer) -> Choker.Candidate {
        let rate = have.isComplete ? peer.upload.rate : peer.download.rate
        return Choker.Candidate(id: peer.key, interested: peer.peerInterested, choked: peer.amChoking, rate: rate)
    }

    /// Unchokes waiting interested peers when a slot is free (see `Choker.fill`).
    func fillUploadSlots() {
        let candidates = peers.values.filter(\.handshakeReceived).map(candidate)
        for key in choker.fill(candidates) {
            if let peer = peers[key] { setChoking(peer, false) }
        }
    }

    func setChoking(_ peer: Peer, _ choking: Bool) {
        guard peer.amChoking != choking else { return }
        peer.amChoking = choking
        if choking {
            peer.incoming.removeAll()
            peer.incomingHead = 0
        }
        peer.send(choking ? .choke : .unchoke)
        peer.updateActivity(now: clock())
    }

    private func chokeRound(rotate: Bool) {
        guard offers == nil else {
            for peer in peers.values where peer.handshakeReceived { setChoking(peer, false) }
            return
        }
        let candidates = peers.values.filter(\.handshakeReceived).map(candidate)
        let unchoke = choker.round(candidates, rotateOptimistic: rotate, using: &random)
        for peer in peers.values where peer.handshakeReceived {
            setChoking(peer, !unchoke.contains(peer.key))
        }
    }

    /// Super-seeding: sends the offers `SuperSeedOffers` makes. Called on every event that frees an offer, and
    /// when a peer's copy goes away.
    func offerPieces() {
        guard offers != nil else { return }
        let made =
            offers?.next(
                has: { [peers] key in peers[key]?.has ?? Bitfield(count: 0) },
                availability: scheduler.picker.availability, now: clock(), using: &random
            ) ?? []
        for offer in made { peers[offer.peer]?.send(.have(piece: UInt32(offer.piece))) }
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
        ticks += 1
        let now = clock()
        downloaded.tick()
        uploaded.tick()
        for peer in Array(peers.values) {
            peer.download.tick()
            peer.upload.tick()
            peer.chatter = 0
            scheduler.adapt(peer.key, rate: peer.download.rate)
            peer.activity.requestsStalled = scheduler.isStalled(peer.key, now: now, timeout: .seconds(30))
            switch timeouts.verdict(peer.activity, now: now) {
            case .drop(let reason):
                drop(peer, reason)
            case .choke:
                setChoking(peer, true)
                fillUploadSlots()
            case .sendKeepAlive:
                peer.send(.keepAlive)
                peer.activity.lastSentAt = now
            case .keep:
                requestBlocks(peer)
            }
        }
        // Every second, not only when an offer ends: a peer left waiting may now be owed pieces others hold.
        _ = offers?.expire(now: now)
        offerPieces()
        if ticks % configuration.chokeInterval == 0 {
            chokeRounds += 1
            chokeRound(rotate: chokeRounds % configuration.optimisticEveryRounds == 0)
        }
        if announcer.isDue(now: now) { announce(event: nil) }
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
                    completion.fail(TorrentError(code: .storage, detail: "\(error)"))
                    return
                }
                verify(fetch.piece)
                startWebFetches()
            }
        }
    }

    // MARK: Tracker

    private var trackerURL: String? {
        if let url = configuration.trackerURL { return url.isEmpty ? nil : url }
        return metainfo.announce
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
                for peer in response.peers where !have.isComplete { addPeer("\(peer.host):\(peer.port)") }
            case .failure(let error):
                logger.info("announce failed", metadata: ["tracker.url": "\(url)", "error": "\(error)"])
            }
        }
    }
}
