import RackswarmCore

/// A parsed single-file v1 torrent (BEP 3), with its info-hash taken over the info dictionary's raw bytes.
public struct Metainfo: Sendable, Equatable {
    /// The primary tracker URL (`announce`).
    public var announce: String?
    /// Tiers of tracker URLs (`announce-list`, BEP 12).
    public var announceList: [[String]]
    /// HTTP/FTP web seeds (`url-list`, BEP 19).
    public var webSeeds: [String]
    /// The suggested file name.
    public var name: String
    /// Bytes per piece (the last piece may be shorter).
    public var pieceLength: Int
    /// Total length of the file in bytes.
    public var length: Int64
    /// SHA-1 of each piece.
    public var pieceHashes: [SHA1Digest]
    /// Whether the torrent is marked private (BEP 27).
    public var isPrivate: Bool
    /// SHA-1 of the bencoded info dictionary, exactly as it appears in the file.
    public var infoHash: SHA1Digest

    /// The number of pieces.
    public var pieceCount: Int { pieceHashes.count }

    /// The size of piece `index` (only the last one can be shorter).
    public func size(ofPiece index: Int) -> Int {
        let start = Int64(index) * Int64(pieceLength)
        return Int(min(Int64(pieceLength), length - start))
    }

    /// The byte offset of piece `index` in the file.
    public func offset(ofPiece index: Int) -> Int64 { Int64(index) * Int64(pieceLength) }

    /// What a torrent must keep to to be used here: parsing (`fetch`, `seed`, the install environment) and building
    /// (`reconcile image publish`) check the same limits, so nothing is published that a node then refuses. Within
    /// them, every offset and size (`pieceCount × pieceLength`, block indices, storage sizing) fits in an Int64.
    public enum Limits {
        /// The largest piece: 64 MiB (the builder picks at most 16 MiB on its own). A piece is held in memory
        /// when a web seed serves it, and re-fetched whole when it fails its hash.
        public static let maxPieceLength = 64 << 20
        /// The smallest piece the builder makes (one request block).
        public static let minBuiltPieceLength = 16 << 10
        /// The largest image: 4 TiB.
        public static let maxLength: Int64 = 1 << 42
        /// The most pieces: 2 Mi (40 MiB of hashes, within the bencode decoder's 64 MiB string limit).
        public static let maxPieceCount = 1 << 21

        /// Names a limit in an error: `4 GiB exceeds the limit of 64 MiB (Metainfo.Limits.maxPieceLength)`.
        static func exceeded(_ value: Int64, _ limit: Int64, _ name: String, bytes: Bool = true) -> String {
            let show = bytes ? Quantity.rounded(bytes:) : { "\($0)" }
            return "\(show(value)) exceeds the limit of \(show(limit)) (Metainfo.Limits.\(name))"
        }
    }
}

/// A torrent file that cannot be used; its detail names the field or path, when known.
public typealias MetainfoError = CodedError<MetainfoErrorCode>

/// What is wrong with a torrent file.
public enum MetainfoErrorCode: String, ErrorCode {
    case notADictionary = "not a bencoded dictionary"
    case missingInfo = "missing 'info' dictionary"
    case missingField = "missing or invalid field"
    case multiFileUnsupported = "multi-file torrents are not supported"
    case inconsistentPieces = "piece count does not match the length"
    case invalidPieceLength = "invalid piece length"
    case limitExceeded = "over a limit"
    case io = "I/O error"

    /// A torrent that does not parse or match its data needs a human; I/O errors may pass.
    public var intent: ErrorIntent { self == .io ? .transient : .stalled }
}

extension Metainfo {
    /// Parses a `.torrent` file's bytes.
    public init(bytes: [UInt8]) throws {
        var decoder = BencodeDecoder(input: bytes)
        let root: BencodeValue
        do {
            root = try decoder.decodeAll()
        } catch let error as BencodeError {
            throw MetainfoError(.notADictionary, error.description)
        }
        guard case .dictionary = root else { throw MetainfoError(.notADictionary) }
        guard let info = root["info"], case .dictionary = info, let span = decoder.topLevelSpans[Array("info".utf8)]
        else { throw MetainfoError(.missingInfo) }
        if info["files"] != nil { throw MetainfoError(.multiFileUnsupported) }
        guard let name = info["name"]?.stringValue else { throw MetainfoError(.missingField, "name") }
        guard let pieceLength = info["piece length"]?.integerValue, pieceLength > 0 else {
            throw MetainfoError(.invalidPieceLength, "piece length")
        }
        guard let length = info["length"]?.integerValue, length >= 0 else {
            throw MetainfoError(.missingField, "length")
        }
        guard let pieces = info["pieces"]?.bytesValue, pieces.count % 20 == 0 else {
            throw MetainfoError(.missingField, "pieces")
        }
        try Self.checkLimits(length: length, pieceLength: pieceLength, pieceCount: Int64(pieces.count / 20))
        let expected = (length + pieceLength - 1) / pieceLength
        guard expected == pieces.count / 20 else {
            throw MetainfoError(.inconsistentPieces, "\(pieces.count / 20) hashes for \(expected) pieces")
        }
        var hashes: [SHA1Digest] = []
        hashes.reserveCapacity(pieces.count / 20)
        for start in stride(from: 0, to: pieces.count, by: 20) {
            hashes.append(SHA1Digest(unchecked: Array(pieces[start..<(start + 20)])))
        }
        self.announce = root["announce"]?.stringValue
        self.announceList = (root["announce-list"]?.listValue ?? []).map { tier in
            (tier.listValue ?? []).compactMap(\.stringValue)
        }
        switch root["url-list"] {
        case .bytes(let url)?: self.webSeeds = [String(decoding: url, as: UTF8.self)]
        case .list(let urls)?: self.webSeeds = urls.compactMap(\.stringValue)
        default: self.webSeeds = []
        }
        self.name = name
        self.pieceLength = Int(pieceLength)
        self.length = length
        self.pieceHashes = hashes
        self.isPrivate = info["private"]?.integerValue == 1
        self.infoHash = bytes[span].withUnsafeBytes { SHA1.hash($0) }
    }

    /// Refuses a length, piece length or piece count over `Limits`, naming the limit.
    static func checkLimits(length: Int64, pieceLength: Int64, pieceCount: Int64) throws {
        guard pieceLength <= Int64(Limits.maxPieceLength) else {
            let detail = "piece length " + Limits.exceeded(pieceLength, Int64(Limits.maxPieceLength), "maxPieceLength")
            throw MetainfoError(.limitExceeded, detail)
        }
        guard length <= Limits.maxLength else {
            throw MetainfoError(
                .limitExceeded, "length " + Limits.exceeded(length, Limits.maxLength, "maxLength"))
        }
        guard pieceCount <= Int64(Limits.maxPieceCount) else {
            let detail = Limits.exceeded(pieceCount, Int64(Limits.maxPieceCount), "maxPieceCount", bytes: false)
            throw MetainfoError(.limitExceeded, "\(pieceCount) pieces: " + detail)
        }
    }

    /// The info dictionary as a bencode value (single-file layout).
    public var infoDictionary: BencodeValue {
        var info: [String: BencodeValue] = [
            "length": .integer(length),
            "name": .string(name),
            "piece length": .integer(Int64(pieceLength)),
            "pieces": .bytes(pieceHashes.flatMap(\.bytes)),
        ]
        if isPrivate { info["private"] = .integer(1) }
        return .dict(info)
    }

    /// Encodes a complete `.torrent` file.
    public func encoded(creationDate: Int64? = nil) -> [UInt8] {
        var root: [String: BencodeValue] = ["info": infoDictionary, "created by": .string(TorrentVersion.createdBy)]
        if let announce { root["announce"] = .string(announce) }
        if !announceList.isEmpty {
            root["announce-list"] = .list(announceList.map { .list($0.map { .string($0) }) })
        }
        if webSeeds.count == 1 {
            root["url-list"] = .string(webSeeds[0])
        } else if !webSeeds.isEmpty {
            root["url-list"] = .list(webSeeds.map { .string($0) })
        }
        if let creationDate { root["creation date"] = .integer(creationDate) }
        return BencodeEncoder.encode(.dict(root))
    }
}
