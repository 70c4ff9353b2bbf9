import Logging
import NIOCore
import NIOPosix

/// Downloads and seeds one torrent, writing pieces straight to a file or block device.
///
/// On start it rechecks what the target already holds and resumes without fetching verified pieces again.
public final class TorrentClient: Sendable {
    private let session: TorrentSession
    private let threadPool: NIOThreadPool
    /// The port the client accepts peers on, if it listens.
    public let listenPort: Int?
    /// The client's peer id.
    public var peerID: [UInt8] { session.peerID }

    private init(session: TorrentSession, threadPool: NIOThreadPool, listenPort: Int?) {
        self.session = session
        self.threadPool = threadPool
        self.listenPort = listenPort
    }

    /// Opens the target, rechecks existing data and joins the swarm.
    ///
    /// - Parameters:
    ///   - path: the image file or block device; created if missing, unless `seedOnly` is set.
    ///   - seedOnly: open read-only (an initial seed of an existing image).
    public static func start(
        metainfo: Metainfo,
        path: String,
        seedOnly: Bool = false,
        configuration: TorrentConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> TorrentClient {
        let existing = PieceStorage.existingSize(path: path) ?? 0
        let storage = try PieceStorage(path: path, length: metainfo.length, writable: !seedOnly)
        let have = try await recheck(metainfo: metainfo, path: path, existingBytes: existing, logger: logger)
        let threadPool = NIOThreadPool(numberOfThreads: max(2, System.coreCount))
        threadPool.start()
        let loop = group.next()
        let session = TorrentSession(
            metainfo: metainfo, storage: storage, have: have, configuration: configuration,
            loop: loop, threadPool: threadPool, logger: logger
        )
        do {
            let port = try await loop.flatSubmit { session.start() }.get()
            return TorrentClient(session: session, threadPool: threadPool, listenPort: port)
        } catch {
            try? await threadPool.shutdownGracefully()
            throw TorrentError(.listen, "\(error)")
        }
    }

    /// Hashes the pieces that lie within the bytes already on the target, on every core.
    static func recheck(metainfo: Metainfo, path: String, existingBytes: Int64, logger: Logger) async throws -> Bitfield
    {
        var have = Bitfield(count: metainfo.pieceCount)
        guard existingBytes > 0 else { return have }
        let candidates = Set(
            (0..<metainfo.pieceCount).filter {
                metainfo.offset(ofPiece: $0) + Int64(metainfo.size(ofPiece: $0)) <= existingBytes
            })
        guard !candidates.isEmpty else { return have }
        let hashes = try await Task.detached {
            try PieceHasher.hashPieces(
                path: path, length: metainfo.length, pieceLength: metainfo.pieceLength, only: candidates
            )
        }.value
        for (index, hash) in hashes.enumerated() where hash == metainfo.pieceHashes[index] { have.insert(index) }
        logger.info(
            "rechecked existing data",
            metadata: ["torrent.pieces_valid": "\(have.setCount)", "torrent.pieces": "\(metainfo.pieceCount)"]
        )
        return have
    }

    /// Dials a peer (`host:port`) and keeps redialling it while pieces are missing.
    public func addPeer(_ address: String) {
        session.loop.execute { self.session.addPeer(address) }
    }

    /// The current progress.
    public func progress() async throws -> TorrentProgress {
        try await session.loop.submit { self.session.progress }.get()
    }

    /// Returns when every piece is verified; throws if the session stops or storage fails first.
    public func waitUntilComplete() async throws {
        try await session.completion.futureResult.get()
    }

    /// Returns once the first piece is verified (the client serves peers from then on); throws if it stops first.
    public func waitUntilFirstPiece() async throws {
        try await session.firstPiece.futureResult.get()
    }

    /// Leaves the swarm and closes the target.
    public func stop() async {
        try? await session.loop.flatSubmit { self.session.stop() }.get()
        try? await threadPool.shutdownGracefully()
    }
}
