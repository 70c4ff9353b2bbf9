import Foundation
import MemberwiseInit

/// Signs and checks service messages with HMAC-SHA256 over the message, a timestamp and a nonce.
///
/// The signature is the message's last field: `hmac-sha256:TIMESTAMP:NONCE:MAC` (Unix seconds, 32 hex digits,
/// 64 hex digits). The MAC covers `rackswarm-service-v1`, the timestamp, the nonce and the canonical encoding
/// of the message without that field, each followed by LF. A response carries its request's nonce, so a client
/// can tell its own answer from a replayed one.
@PublicMemberwiseInit
public struct MessageAuthenticator: Sendable {
    /// Prefix of the signature field.
    public static let fieldPrefix = "hmac-sha256:"

    public let key: SiteKey

    /// The message with a signature field appended. A fresh random nonce is used unless one is given.
    public func sign(_ message: ServiceMessage, timestamp: Int64, nonce: String? = nil) -> ServiceMessage {
        let nonce = nonce ?? Self.freshNonce()
        let mac = hex(key.mac(Self.signedBytes(message, timestamp: timestamp, nonce: nonce)))
        var signed = message
        signed.payload.append("\(Self.fieldPrefix)\(timestamp):\(nonce):\(mac)")
        return signed
    }

    /// 16 random bytes from OpenSSL, as 32 hex digits.
    public static func freshNonce() -> String { hex(randomBytes(16)) }

    /// A signed message, split into its content and its verified timestamp and nonce.
    public struct Verified: Sendable, Hashable {
        public var message: ServiceMessage
        public var timestamp: Int64
        public var nonce: String
    }

    /// Why a message was refused. Never says anything about the key.
    public enum Failure: String, Error, Sendable, Hashable {
        case missing = "missing signature"
        case malformed = "malformed signature"
        case badMAC = "bad signature"
        case stale = "timestamp outside the allowed window"
        case replayed = "replayed nonce"
    }

    /// Checks the signature field; on success returns the message without it.
    public func verify(_ message: ServiceMessage) -> Result<Verified, Failure> {
        guard let last = message.payload.last, last.hasPrefix(Self.fieldPrefix) else { return .failure(.missing) }
        let parts = last.dropFirst(Self.fieldPrefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let timestamp = Int64(parts[0]), parts[1].utf8.count == 32,
            unhex(parts[1]) != nil, let mac = unhex(parts[2]), mac.count == 32
        else { return .failure(.malformed) }
        var content = message
        content.payload.removeLast()
        let nonce = String(parts[1])
        let expected = key.mac(Self.signedBytes(content, timestamp: timestamp, nonce: nonce))
        guard constantTimeEqual(expected, mac) else { return .failure(.badMAC) }
        return .success(Verified(message: content, timestamp: timestamp, nonce: nonce))
    }

    static func signedBytes(_ message: ServiceMessage, timestamp: Int64, nonce: String) -> [UInt8] {
        Array("rackswarm-service-v1\n\(timestamp)\n\(nonce)\n".utf8) + message.encoded + [10]
    }
}

/// Remembers recent request nonces so a captured request cannot be played again.
///
/// Requests older or newer than `window` are refused outright, so only nonces inside the window need keeping.
/// With a file, the nonces survive an agent restart (one `TIMESTAMP NONCE` per line).
public struct ReplayGuard: Sendable {
    public let window: Int64
    private var seen: [String: Int64] = [:]
    private let file: String?

    /// A guard; loads nonces still inside the window from `file` when given.
    public init(window: Duration = .seconds(300), file: String? = nil, now: Int64) {
        self.window = max(1, window.components.seconds)
        self.file = file
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let stamp = Int64(parts[0]), Self.isFresh(stamp, now: now, window: self.window)
            else { continue }
            seen[String(parts[1])] = stamp
        }
        rewrite()
    }

    /// Accepts a fresh nonce (and records it) or says why not.
    public mutating func admit(timestamp: Int64, nonce: String, now: Int64) -> MessageAuthenticator.Failure? {
        guard Self.isFresh(timestamp, now: now, window: window) else { return .stale }
        guard seen[nonce] == nil else { return .replayed }
        seen[nonce] = timestamp
        if seen.count > 4096 {
            seen = seen.filter { Self.isFresh($0.value, now: now, window: window) }
            rewrite()
        }
        if let file, let handle = FileHandle(forWritingAtPath: file) ?? createFile(file) {
            handle.seekToEndOfFile()
            handle.write(Data("\(timestamp) \(nonce)\n".utf8))
            try? handle.synchronize()
            try? handle.close()
        }
        return nil
    }

    /// Whether `stamp` lies within `window` seconds of `now`. Any Int64 may come off the wire (Int64.min
    /// included), so the difference is computed with overflow checked: an overflow is as stale as it gets.
    static func isFresh(_ stamp: Int64, now: Int64, window: Int64) -> Bool {
        let (difference, overflow) = now.subtractingReportingOverflow(stamp)
        return !overflow && difference.magnitude <= window.magnitude
    }

    private func createFile(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }

    private func rewrite() {
        guard let file else { return }
        let text = seen.map { "\($0.value) \($0.key)\n" }.sorted().joined()
        try? text.write(toFile: file, atomically: true, encoding: .utf8)
    }
}
