import COpenSSL

/// A 20-byte SHA-1 digest, as used for piece hashes and the info-hash.
public struct SHA1Digest: Sendable, Hashable, CustomStringConvertible {
    /// The 20 digest bytes.
    public let bytes: [UInt8]

    /// Wraps 20 bytes; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        self.bytes = Array(bytes)
    }

    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Lower-case hex.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
}

/// SHA-1 through the system OpenSSL (one-shot EVP digest).
public enum SHA1 {
    /// Hashes a region of memory.
    public static func hash(_ buffer: UnsafeRawBufferPointer) -> SHA1Digest {
        var out = [UInt8](repeating: 0, count: 20)
        out.withUnsafeMutableBufferPointer { digest in
            var size: UInt32 = 20
            let status = EVP_Digest(buffer.baseAddress, buffer.count, digest.baseAddress, &size, EVP_sha1(), nil)
            precondition(status == 1, "EVP_Digest(sha1) failed")
        }
        return SHA1Digest(unchecked: out)
    }

    /// Hashes bytes.
    public static func hash(_ bytes: some ContiguousBytes) -> SHA1Digest {
        bytes.withUnsafeBytes { hash($0) }
    }
}

/// An incremental SHA-1 (OpenSSL EVP context), for hashing a piece in cache-sized chunks.
final class SHA1Context {
    private let context: OpaquePointer?

    init() {
        context = EVP_MD_CTX_new()
        precondition(context != nil && EVP_DigestInit_ex(context, EVP_sha1(), nil) == 1, "EVP sha1 init failed")
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Starts a new digest.
    func reset() {
        EVP_DigestInit_ex(context, EVP_sha1(), nil)
    }

    /// Adds bytes.
    func update(_ buffer: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
    }

    /// Finishes and returns the digest.
    func finish() -> SHA1Digest {
        var out = [UInt8](repeating: 0, count: 20)
        var size: UInt32 = 20
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &size) }
        return SHA1Digest(unchecked: out)
    }
}

/// Types whose bytes are contiguous in memory.
public protocol ContiguousBytes {
    /// Calls `body` with the bytes.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
