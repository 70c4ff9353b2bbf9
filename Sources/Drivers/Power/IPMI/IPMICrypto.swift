import COpenSSL

/// The cipher suite 3 and 17 primitives (HMAC-SHA1, HMAC-SHA256, AES-CBC-128, random bytes) over the system OpenSSL.
enum IPMICrypto {
    /// The hash under an HMAC.
    enum Digest: Sendable, Equatable {
        case sha1
        case sha256

        /// Output length in bytes.
        var size: Int { self == .sha1 ? 20 : 32 }
    }

    /// A cryptographic call into OpenSSL failed (out of memory, bad key length); never carries key material.
    struct Failure: Error, Sendable, Equatable {
        let operation: String
    }

    /// HMAC-SHA1 of `data` under `key` (20 bytes).
    static func hmacSHA1(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        hmac(.sha1, key: key, data)
    }

    /// The HMAC of `data` under `key` with `digest` (20 or 32 bytes).
    static func hmac(_ digest: Digest, key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { keyBytes in
            data.withUnsafeBufferPointer { dataBytes in
                output.withUnsafeMutableBufferPointer { out in
                    _ = HMAC(
                        digest == .sha1 ? EVP_sha1() : EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                        dataBytes.baseAddress,
                        dataBytes.count, out.baseAddress, &length)
                }
            }
        }
        return Array(output.prefix(Int(length)))
    }

    /// AES-128-CBC without padding; `data.count` must be a multiple of 16.
    static func aes128CBC(encrypt: Bool, key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws(Failure) -> [UInt8] {
        guard key.count == 16, iv.count == 16, data.count % 16 == 0 else { throw Failure(operation: "aes-arguments") }
        guard let context = EVP_CIPHER_CTX_new() else { throw Failure(operation: "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_CipherInit_ex(context, EVP_aes_128_cbc(), nil, key, iv, encrypt ? 1 : 0) == 1 else {
            throw Failure(operation: "EVP_CipherInit_ex")
        }
        EVP_CIPHER_CTX_set_padding(context, 0)
        var output = [UInt8](repeating: 0, count: data.count + 16)
        var written: Int32 = 0
        var finalWritten: Int32 = 0
        let ok = output.withUnsafeMutableBufferPointer { out -> Bool in
            guard let base = out.baseAddress else { return false }
            guard EVP_CipherUpdate(context, base, &written, data, Int32(data.count)) == 1 else { return false }
            return EVP_CipherFinal_ex(context, base + Int(written), &finalWritten) == 1
        }
        guard ok else { throw Failure(operation: "EVP_Cipher") }
        return Array(output.prefix(Int(written + finalWritten)))
    }

    /// Cryptographically strong random bytes.
    static func randomBytes(_ count: Int) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw Failure(operation: "RAND_bytes") }
        return bytes
    }
}
