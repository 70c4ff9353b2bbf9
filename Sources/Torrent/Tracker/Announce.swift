import MemberwiseInit

/// An announce from a client to a tracker (BEP 3), plus our `rack` key.
@PublicMemberwiseInit
public struct AnnounceRequest: Sendable, Equatable {
    /// Why the client announces.
    public enum Event: String, Sendable {
        case started, completed, stopped
    }

    public var infoHash: [UInt8]
    public var peerID: [UInt8]
    public var port: Int
    public var uploaded: Int64 = 0
    public var downloaded: Int64 = 0
    public var left: Int64
    public var event: Event?
    public var numWant: Int = 50
    /// The client's rack (our own clients send it; others don't).
    public var rack: String?
    /// The address the client claims (`ip=`), if any.
    public var ip: String?
    /// Whether the client asked for compact peers (BEP 23).
    public var compact: Bool = true

    /// The query string (without `?`).
    public var query: String {
        var parts = [
            "info_hash=\(URLQuery.percentEncode(infoHash))",
            "peer_id=\(URLQuery.percentEncode(peerID))",
            "port=\(port)",
            "uploaded=\(uploaded)",
            "downloaded=\(downloaded)",
            "left=\(left)",
            "compact=\(compact ? 1 : 0)",
            "numwant=\(numWant)",
        ]
        if let event { parts.append("event=\(event.rawValue)") }
        if let rack { parts.append("rack=\(URLQuery.percentEncode(Array(rack.utf8)))") }
        if let ip { parts.append("ip=\(URLQuery.percentEncode(Array(ip.utf8)))") }
        return parts.joined(separator: "&")
    }

    /// Parses an announce query string; nil when a required key is missing or malformed.
    public init?(query: String) {
        let fields = URLQuery.parse(query)
        guard let infoHash = fields["info_hash"], infoHash.count == 20,
            let peerID = fields["peer_id"], peerID.count == 20,
            let port = fields["port"].flatMap({ Int(String(decoding: $0, as: UTF8.self)) }), (0...65535).contains(port)
        else { return nil }
        func number(_ key: String) -> Int64? { fields[key].flatMap { Int64(String(decoding: $0, as: UTF8.self)) } }
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = number("uploaded") ?? 0
        self.downloaded = number("downloaded") ?? 0
        self.left = number("left") ?? 0
        self.event = fields["event"].flatMap { Event(rawValue: String(decoding: $0, as: UTF8.self)) }
        self.numWant = Int(number("numwant") ?? 50)
        self.rack = fields["rack"].map { String(decoding: $0, as: UTF8.self) }
        self.ip = fields["ip"].map { String(decoding: $0, as: UTF8.self) }
        self.compact = number("compact") != 0
    }
}

/// A peer address from a tracker.
@PublicMemberwiseInit
public struct PeerAddress: Sendable, Hashable {
    public var host: String
    public var port: Int
}

/// A tracker's answer to an announce.
@PublicMemberwiseInit
public struct AnnounceResponse: Sendable, Equatable {
    public var interval: Int
    public var complete: Int = 0
    public var incomplete: Int = 0
    public var peers: [PeerAddress]
    /// Those of `peers` in the requester's rack (our tracker's `rack peers` key); empty from other trackers.
    public var rackPeers: [PeerAddress] = []
    /// Whether our tracker asks to keep traffic in the rack (`keep in rack`; see `TrackerConfiguration`).
    public var keepInRack: Bool = false
    /// Every IPv4 host the tracker's configuration places in the requester's rack (our tracker's `rack hosts` key,
    /// 4 bytes each), whether or not it announced yet: a node learns its whole rack from its first answer.
    public var rackHosts: [String] = []

    /// Parses a bencoded response with compact (BEP 23) or dictionary peers.
    public init(bencoded bytes: [UInt8]) throws {
        let root = try BencodeDecoder.decode(bytes, limits: BencodeLimits(maxDepth: 8, maxStringLength: 1 << 20))
        if let reason = root["failure reason"]?.stringValue {
            throw TorrentError(.tracker, reason)
        }
        self.interval = Int(root["interval"]?.integerValue ?? 1800)
        self.complete = Int(root["complete"]?.integerValue ?? 0)
        self.incomplete = Int(root["incomplete"]?.integerValue ?? 0)
        self.rackPeers = Self.compactIPv4(root["rack peers"]?.bytesValue ?? [])
        self.keepInRack = root["keep in rack"]?.integerValue == 1
        self.rackHosts = Self.ipv4Entries(root["rack hosts"]?.bytesValue ?? [], size: 4) { host, _ in host }
        switch root["peers"] {
        case .bytes(let compact)?:
            self.peers = Self.compactIPv4(compact)
        case .list(let entries)?:
            self.peers = entries.compactMap { entry in
                guard let host = entry["ip"]?.stringValue, let port = entry["port"]?.integerValue else { return nil }
                return PeerAddress(host: host, port: Int(port))
            }
        default:
            self.peers = []
        }
    }
}

extension AnnounceResponse {
    /// Peers from a BEP 23 compact IPv4 string (a trailing partial entry is ignored).
    static func compactIPv4(_ compact: [UInt8]) -> [PeerAddress] {
        ipv4Entries(compact, size: 6) { host, start in
            PeerAddress(host: host, port: Int(compact[start + 4]) << 8 | Int(compact[start + 5]))
        }
    }

    /// Each whole `size`-byte entry of `bytes`, which starts with an IPv4 address: `make` gets the address as a
    /// dotted quad and the entry's offset.
    static func ipv4Entries<T>(_ bytes: [UInt8], size: Int, _ make: (String, Int) -> T) -> [T] {
        stride(from: 0, to: bytes.count - bytes.count % size, by: size).map { start in
            make(bytes[start..<(start + 4)].map(String.init).joined(separator: "."), start)
        }
    }
}

/// Percent-encoding of binary query values, as trackers expect.
public enum URLQuery {
    /// Encodes every byte outside the unreserved set as `%XX`.
    public static func percentEncode(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes a URL path segment (keeps `/`).
    public static func percentEncodePath(_ text: String) -> String {
        text.split(separator: "/", omittingEmptySubsequences: false).map { percentEncode(Array($0.utf8)) }
            .joined(separator: "/")
    }

    /// Decodes `%XX` and `+`; nil on a broken escape.
    public static func percentDecode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2, let high = hexValue(bytes.removeFirst()),
                    let low = hexValue(bytes.removeFirst())
                else { return nil }
                out.append(high << 4 | low)
            } else if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Splits a query into decoded values (the first value wins for repeated keys).
    public static func parse(_ query: String) -> [String: [UInt8]] {
        var fields: [String: [UInt8]] = [:]
        for part in query.split(separator: "&") {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = pieces.first.flatMap({ percentDecode($0) }) else { continue }
            let value = pieces.count > 1 ? percentDecode(pieces[1]) : []
            let name = String(decoding: key, as: UTF8.self)
            if fields[name] == nil, let value { fields[name] = value }
        }
        return fields
    }
}
