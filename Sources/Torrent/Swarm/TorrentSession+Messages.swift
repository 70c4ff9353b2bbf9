import Logging
import NIOCore
import NIOPosix

/// Peer messages in, blocks to storage, pieces through verification.
extension TorrentSession {
    func received(_ event: PeerWireEvent, from peer: Peer) {
        guard peers[peer.key] != nil else { return }
        switch event {
        case .handshake(let handshake):
            peer.activity.lastMessageAt = clock()
            handle(handshake, from: peer)
        case .message(let message):
            if message.carriesNoData {
                // A peer that floods messages without data would hold the event loop: close it at once.
                peer.chatter += 1
                if timeouts.isFlooding(chatter: peer.chatter) { return drop(peer, "message flood") }
            }
            if message != .keepAlive { peer.activity.lastMessageAt = clock() }
            handle(message, from: peer)
        }
    }

    private func handle(_ handshake: Handshake, from peer: Peer) {
        guard handshake.infoHash == metainfo.infoHash.bytes else { return drop(peer, "wrong info-hash") }
        guard handshake.peerID != peerID else { return drop(peer, "connected to ourselves") }
        guard !blame.isBanned(peer.host) else { return drop(peer, "banned address") }
        if peers.values.contains(where: { $0 !== peer && $0.handshakeReceived && $0.remoteID == handshake.peerID }) {
            if peer.outgoing { targetIDs[peer.address] = handshake.peerID }
            return drop(peer, "duplicate connection")
        }
        handshaken(peer)
        peer.remoteID = handshake.peerID
        if peer.outgoing { targetIDs[peer.address] = handshake.peerID }
        if !peer.outgoing { sendHandshake(peer) }
        if offers != nil {
            // A super-seed serves every peer (its offers decide what goes where), so nothing waits on a choke.
            offers?.join(peer.key)
            setChoking(peer, false)
            offerPieces()
        } else if have.setCount > 0 {
            var bits = peer.channel.allocator.buffer(capacity: have.bytes.count)
            bits.writeBytes(have.bytes)
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
            scheduler.release(peer.key)
            peer.updateActivity(now: clock())
        case .unchoke:
            peer.peerChoking = false
            peer.updateActivity(now: clock())
        case .interested:
            peerInterest(peer, true)
        case .notInterested:
            peerInterest(peer, false)
        case .have(let index):
            guard Int(index) < metainfo.pieceCount else { return drop(peer, "have past the end") }
            peerHas(peer, Int(index))
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
            guard validRequest(request), have.contains(Int(request.piece)) else {
                return drop(peer, "invalid request")
            }
            guard !peer.amChoking else { return }
            guard peer.pendingIncoming < 2048 else { return drop(peer, "request flood") }
            peer.incoming.append(request)
            if peer.activity.unchokedUnusedSince != nil { peer.activity.unchokedUnusedSince = clock() }
        case .cancel(let request):
            if let position = peer.incoming[peer.incomingHead...].firstIndex(of: request) {
                peer.incoming.remove(at: position)
                uploadStatistics.cancelsHonoured += 1
            }
        case .reject(let request):
            scheduler.rejected(request, by: peer.key)
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

    // MARK: Downloading

    private func receivedBlock(_ request: BlockRequest, _ block: ByteBuffer, from peer: Peer) {
        let now = clock()
        peer.download.add(block.readableBytes)
        downloaded.add(block.readableBytes)
        if configuration.seedHosts.contains(peer.host) { fromSeedHosts += Int64(block.readableBytes) }
        if peer.outgoing { dialer.succeeded(peer.address) }
        guard case .accepted(let complete, let cancel) = scheduler.received(request, from: peer.key, now: now)
        else { return }
        let index = Int(request.piece)
        do {
            try block.withUnsafeReadableBytes { bytes in
                try storage.write(bytes, at: metainfo.offset(ofPiece: index) + Int64(request.begin))
            }
        } catch {
            logger.error("write failed", metadata: ["error": "\(error)"])
            completion.fail(TorrentError(.storage, "\(error)"))
            return
        }
        blame.contributed(index, by: peer.host)
        // Endgame: others asked for the same block; cancel theirs.
        for key in cancel {
            guard let other = peers[key] else { continue }
            other.send(.cancel(request), flush: false)
            other.channel.flush()
        }
        if complete { verify(index) }
    }

    func verify(_ index: Int) {
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
        guard passed else { return pieceFailed(index) }
        blame.passed(index)
        scheduler.verified(index)
        have.insert(index)
        verifiedBytes += Int64(metainfo.size(ofPiece: index))
        if have.setCount == 1 { firstPiece.succeed() }
        announceVerified(index)
        if have.isComplete {
            storage.sync()
            logger.info("download complete", metadata: ["torrent.bytes": "\(metainfo.length)"])
            completion.succeed()
            announce(event: .completed)
            for peer in peers.values where peer.has.isComplete {
                if peer.outgoing { dialer.remove(peer.address) }
                drop(peer, "both seeds")
            }
        }
    }

    private func pieceFailed(_ index: Int) {
        let failure = blame.failed(index)
        // Blame only a sole source; a piece from several peers is fetched again from one to find the liar.
        scheduler.failed(index, solo: failure.sources > 1)
        hashFailures += 1
        if failure.sources == 0 { webSeed.servedBadPiece() }
        logger.warning(
            "piece failed its hash check", metadata: ["piece.index": "\(index)", "piece.sources": "\(failure.sources)"]
        )
        if let banned = failure.banned {
            // The ban is on the address: every connection from it goes, and it is never dialled again.
            for target in dialer.targets where PeerTarget.host(of: target) == banned { dialer.remove(target) }
            for peer in peers.values where peer.host == banned {
                dialer.remove(peer.address)
                drop(peer, "sent \(blame.badPieces[banned] ?? 0) bad pieces")
            }
        }
        for peer in peers.values { requestBlocks(peer) }
    }

    /// Keeps the peer's request pipeline full.
    func requestBlocks(_ peer: Peer) {
        // A peer dropped earlier in this read must not take blocks: nothing would release them.
        guard peers[peer.key] != nil, peer.handshakeReceived, !peer.peerChoking, peer.amInterested else { return }
        let picks = pickRequests(peer)
        guard !picks.isEmpty else { return }
        for request in picks { peer.send(.request(request), flush: false) }
        peer.channel.flush()
    }

    func readComplete(_ peer: Peer) {
        requestBlocks(peer)
        if limiter == nil { serveRequests(peer) }
    }
}

extension PeerMessage {
    /// Whether the message moves no data and announces nothing new (what a flood is made of).
    var carriesNoData: Bool {
        switch self {
        case .keepAlive, .port, .suggest, .allowedFast, .unknown, .choke, .unchoke, .interested, .notInterested:
            true
        case .have, .bitfield, .haveAll, .haveNone, .request, .cancel, .reject, .piece:
            false
        }
    }
}
