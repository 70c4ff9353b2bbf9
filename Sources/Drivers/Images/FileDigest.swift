import COpenSSL
import Foundation

/// SHA-256 of a file or block device (OpenSSL's EVP digest, read in 1 MiB blocks), and `fsync`.
public enum FileDigest {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Lower-case hex SHA-256 of bytes `0..<length` of `path`, or of the whole file when `length` is nil.
    /// A file shorter than `length` is an error (a disk that does not hold the whole image).
    public static func sha256(path: String, length: Int64? = nil) throws(Failure) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let context = EVP_MD_CTX_new() else { throw Failure(description: "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            throw Failure(description: "EVP sha256 init failed")
        }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var remaining = length ?? Int64.max
        while remaining > 0 {
            let count = read(fd, buffer, Int(min(Int64(chunk), remaining)))
            if count < 0 && errno == EINTR { continue }
            if count == 0 && length == nil { break }
            guard count > 0 else {
                throw Failure(description: count == 0 ? "\(path) ends \(remaining) bytes before the image does"
                                : "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            guard EVP_DigestUpdate(context, buffer, count) == 1 else {
                throw Failure(description: "EVP sha256 update failed")
            }
            remaining -= Int64(count)
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var size: UInt32 = 32
        guard EVP_DigestFinal_ex(context, &digest, &size) == 1 else {
            throw Failure(description: "EVP sha256 final failed")
        }
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Flushes the file or device to stable storage.
    public static func sync(path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(description: "fsync \(path): \(String(cString: strerror(errno)))") }
    }
}
