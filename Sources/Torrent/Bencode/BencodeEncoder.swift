/// Encodes bencode values into bytes, with dictionary keys sorted as BEP 3 requires.
public enum BencodeEncoder {
    /// Encodes one value.
    public static func encode(_ value: BencodeValue) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    /// Appends the encoding of `value` to `out`.
    public static func encode(_ value: BencodeValue, into out: inout [UInt8]) {
        switch value {
        case .integer(let number):
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: String(number).utf8)
            out.append(UInt8(ascii: "e"))
        case .bytes(let bytes):
            out.append(contentsOf: String(bytes.count).utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: bytes)
        case .list(let items):
            out.append(UInt8(ascii: "l"))
            for item in items { encode(item, into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            out.append(UInt8(ascii: "d"))
            for key in entries.keys.sorted(by: bencodeKeyLess) {
                encode(.bytes(key), into: &out)
                if let item = entries[key] { encode(item, into: &out) }
            }
            out.append(UInt8(ascii: "e"))
        }
    }
}
