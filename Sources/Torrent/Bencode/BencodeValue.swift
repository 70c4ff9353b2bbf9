/// A bencoded value (BEP 3): an integer, a byte string, a list, or a dictionary with byte-string keys.
public enum BencodeValue: Sendable, Hashable {
    case integer(Int64)
    case bytes([UInt8])
    case list([BencodeValue])
    /// Keys are kept sorted by raw bytes, as the encoding requires.
    case dictionary([[UInt8]: BencodeValue])

    /// Makes a byte-string value from UTF-8 text.
    public static func string(_ text: String) -> BencodeValue { .bytes(Array(text.utf8)) }

    /// Makes a dictionary value from text keys.
    public static func dict(_ pairs: [String: BencodeValue]) -> BencodeValue {
        var out: [[UInt8]: BencodeValue] = [:]
        for (key, value) in pairs { out[Array(key.utf8)] = value }
        return .dictionary(out)
    }

    /// The value under a text key, when this is a dictionary.
    public subscript(key: String) -> BencodeValue? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries[Array(key.utf8)]
    }

    /// The integer, when this is one.
    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The raw bytes, when this is a byte string.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The bytes decoded as UTF-8 text, when this is a byte string holding valid UTF-8.
    public var stringValue: String? {
        guard case .bytes(let value) = self else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The elements, when this is a list.
    public var listValue: [BencodeValue]? {
        if case .list(let value) = self { return value }
        return nil
    }
}

/// Orders byte strings the way bencode dictionaries sort their keys (raw bytes, shorter prefix first).
@inlinable
func bencodeKeyLess(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    lhs.lexicographicallyPrecedes(rhs)
}
