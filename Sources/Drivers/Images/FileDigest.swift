import COpenSSL
import Foundation

/// SHA-256 of a whole file or block device, read in 1 MiB blocks (OpenSSL's EVP digest).
public enum FileDigest {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Lower-case hex SHA-256 of the file at `path`.
    public static func sha256(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Failure(path: path, reason: "cannot open it for reading")
        }
        defer { try? handle.close() }
        guard let context = EVP_MD_CTX_new() else { throw Failure(path: path, reason: "no digest context") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            throw Failure(path: path, reason: "SHA-256 unavailable")
        }
        while true {
            let block: Data
            do {
                block = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw Failure(path: path, reason: "read failed: \(error.localizedDescription)")
            }
            if block.isEmpty { break }
            _ = block.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}
