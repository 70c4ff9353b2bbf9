import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates a single-file torrent from an image file or block device.
public enum MetainfoBuilder {
    /// Picks a power-of-two piece length for an image: 4–16 MiB for 1–20 GB images, smaller for small ones.
    public static func pieceLength(forSize size: Int64) -> Int {
        let mib: Int64 = 1 << 20
        let gib: Int64 = 1 << 30
        switch size {
        case ..<gib:
            var length = 16 << 10
            while Int64(length) * 256 < size, length < 4 << 20 { length <<= 1 }
            return length
        case ..<(4 * gib): return Int(4 * mib)
        case ..<(10 * gib): return Int(8 * mib)
        default: return Int(16 * mib)
        }
    }

    /// Hashes `path` on every core and returns its metainfo.
    public static func create(
        path: String,
        name: String? = nil,
        pieceLength: Int? = nil,
        announce: String? = nil,
        webSeeds: [String] = [],
        logger: Logger
    ) throws -> Metainfo {
        let length = try fileSize(path: path)
        let chosen = pieceLength ?? Self.pieceLength(forSize: length)
        try checkPieceLength(chosen)
        let pieceCount = length / Int64(chosen) + (length % Int64(chosen) == 0 ? 0 : 1)
        try Metainfo.checkLimits(length: length, pieceLength: Int64(chosen), pieceCount: pieceCount)
        logger.info(
            "hashing image",
            metadata: ["image.path": "\(path)", "image.bytes": "\(length)", "torrent.piece_length": "\(chosen)"]
        )
        let hashes = try PieceHasher.hashPieces(path: path, length: length, pieceLength: chosen)
        var digests: [SHA1Digest] = []
        for hash in hashes {
            guard let hash else { throw MetainfoError(.io, "piece not hashed") }
            digests.append(hash)
        }
        let fileName = name ?? String(path.split(separator: "/").last ?? Substring(path))
        var metainfo = Metainfo(
            announce: announce,
            announceList: [],
            webSeeds: webSeeds,
            name: fileName,
            pieceLength: chosen,
            length: length,
            pieceHashes: digests,
            isPrivate: false,
            infoHash: SHA1.hash([UInt8]())
        )
        metainfo.infoHash = SHA1.hash(BencodeEncoder.encode(metainfo.infoDictionary))
        return metainfo
    }

    /// Refuses a piece length that is not a power of two between 16 KiB and `Metainfo.Limits.maxPieceLength`:
    /// the one rule for `image publish --piece-size` and for what `fetch` accepts.
    public static func checkPieceLength(_ length: Int) throws {
        guard length >= Metainfo.Limits.minBuiltPieceLength, length.nonzeroBitCount == 1 else {
            throw MetainfoError(.invalidPieceLength, "\(length) (must be a power of two ≥ 16 KiB)")
        }
        guard length <= Metainfo.Limits.maxPieceLength else {
            let limit = Int64(Metainfo.Limits.maxPieceLength)
            throw MetainfoError(
                .limitExceeded, "piece length " + Metainfo.Limits.exceeded(Int64(length), limit, "maxPieceLength"))
        }
    }

    /// The size of a regular file or a block device.
    public static func fileSize(path: String) throws -> Int64 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw MetainfoError(.io, "open \(path): errno \(errno)") }
        defer { close(descriptor) }
        let end = lseek(descriptor, 0, SEEK_END)
        guard end >= 0 else { throw MetainfoError(.io, "seek \(path): errno \(errno)") }
        return Int64(end)
    }
}
