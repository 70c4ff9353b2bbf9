import COpenSSL
import Foundation

/// The per-site secret that signs every service message (HMAC-SHA256). Never printed.
public struct SiteKey: Sendable, CustomStringConvertible {
    /// Shortest key accepted, in bytes.
    public static let minimumLength = 16

    let bytes: [UInt8]

    /// A key from raw bytes; nil when shorter than `minimumLength`.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    /// Reads the key from a file: its bytes, less trailing CR/LF.
    public init(contentsOfFile path: String) throws(ServiceAgentError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServiceAgentError(.badKey, "site key file \(path) cannot be read")
        }
        var bytes = Array(data)
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
        guard bytes.count >= Self.minimumLength else {
            throw ServiceAgentError(.badKey, "site key file \(path) holds fewer than \(Self.minimumLength) bytes")
        }
        self.bytes = bytes
    }

    /// A fresh random key as 64 hex characters, for `provision-agent` set-up and tests.
    public static func generateHex() -> String {
        hex(randomBytes(32))
    }

    public var description: String { "SiteKey(redacted)" }

    /// HMAC-SHA256 of `message` under this key.
    func mac(_ message: [UInt8]) -> [UInt8] {
        Self.hmac(key: bytes, message)
    }
}

/// Cryptographically random bytes from OpenSSL.
func randomBytes(_ count: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    if RAND_bytes(&out, Int32(count)) != 1 {
        var generator = SystemRandomNumberGenerator()
        for index in out.indices { out[index] = UInt8.random(in: 0...255, using: &generator) }
    }
    return out
}

/// Lower-case hex.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Parses lower- or upper-case hex; nil on anything else.
func unhex(_ text: Substring) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
    var out: [UInt8] = []
    var index = 0
    while index < chars.count {
        guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
        out.append(high << 4 | low)
        index += 2
    }
    return out
}

/// Constant-time comparison.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
    }
}
