import RackswarmCore

/// Reads an install report as `JSONEncoder` stores it, a flat object of strings, numbers and nulls, without a
/// decoder: a status view of 100,000 nodes reads 100,000 of them. Anything else (an escape in a string, a key it
/// does not know, a key twice, a missing field) gives nil, and the store decodes that row with `JSONDecoder`.
///
/// One pass over the bytes, each value straight into its field: no dictionary and no string per key.
enum FlatReportReader {
    /// The report's fields as read so far; a field absent or null stays nil.
    private struct Fields {
        var phase: InstallReport.Phase?
        var image: String?
        var percent: Double?
        var downloaded: Int64?
        var uploaded: Int64?
        var fromSeed: Int64?
        var uploadStartedAtPercent: Double?
        var error: String?
    }

    private enum Value {
        case string(Range<Int>)
        case number(Double)
        case null
    }

    static func report(_ text: String) -> InstallReport? {
        var text = text
        return text.withUTF8 { bytes in
            guard let fields = fields(bytes), let phase = fields.phase, let image = fields.image,
                  let percent = fields.percent, let downloaded = fields.downloaded, let uploaded = fields.uploaded,
                  let fromSeed = fields.fromSeed
            else { return nil }
            return InstallReport(phase: phase, image: image, percent: percent, downloaded: downloaded,
                                 uploaded: uploaded, fromSeed: fromSeed,
                                 uploadStartedAtPercent: fields.uploadStartedAtPercent, error: fields.error)
        }
    }

    /// `{"key":value,…}` with the report's keys, each at most once, string, number and null values and no escapes;
    /// nil for anything else.
    private static func fields(_ bytes: UnsafeBufferPointer<UInt8>) -> Fields? {
        var index = 0
        func at(_ byte: Unicode.Scalar) -> Bool {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: byte) else { return false }
            index += 1
            return true
        }
        /// The bytes of a string without escapes, quotes excluded.
        func string() -> Range<Int>? {
            guard at("\"") else { return nil }
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") { return nil }
                index += 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            return start..<(index - 1)
        }
        func value() -> Value? {
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") { return string().map(Value.string) }
            if bytes[index...].starts(with: "null".utf8) {
                index += 4
                return .null
            }
            let start = index
            while index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+")
                || bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e")
                || (bytes[index] >= 48 && bytes[index] <= 57) {
                index += 1
            }
            return number(UnsafeBufferPointer(rebasing: bytes[start..<index])).map(Value.number)
        }
        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
        guard at("{") else { return nil }
        var fields = Fields()
        if at("}") { return index == bytes.count ? fields : nil }
        var seen: UInt8 = 0
        repeat {
            guard let key = string(), at(":"), let value = value() else { return nil }
            let name = UnsafeBufferPointer(rebasing: bytes[key])
            guard let slot = keys.firstIndex(where: { $0.elementsEqual(name) }), seen & (1 << slot) == 0 else {
                return nil
            }
            seen |= 1 << slot
            switch (slot, value) {
            case (_, .null): break
            case (0, .string(let range)):
                guard let phase = InstallReport.Phase(rawValue: text(range)) else { return nil }
                fields.phase = phase
            case (1, .string(let range)): fields.image = text(range)
            case (2, .number(let number)): fields.percent = number
            case (3, .number(let number)):
                guard let count = int(number) else { return nil }
                fields.downloaded = count
            case (4, .number(let number)):
                guard let count = int(number) else { return nil }
                fields.uploaded = count
            case (5, .number(let number)):
                guard let count = int(number) else { return nil }
                fields.fromSeed = count
            case (6, .number(let number)): fields.uploadStartedAtPercent = number
            case (7, .string(let range)): fields.error = text(range)
            default: return nil
            }
        } while at(",")
        guard at("}") else { return nil }
        return index == bytes.count ? fields : nil
    }

    /// The keys `InstallReport` encodes, in the order of the slots above.
    private static let keys: [[UInt8]] = ["phase", "image", "percent", "downloaded", "uploaded", "fromSeed",
                                          "uploadStartedAtPercent", "error"].map { Array($0.utf8) }

    /// Integers up to 2^53 are exact in a Double; larger ones (and fractions) are left to the decoder.
    private static func int(_ number: Double) -> Int64? {
        guard abs(number) <= 9_007_199_254_740_992 else { return nil }
        return Int64(exactly: number)
    }

    /// A JSON number: digits alone (the common case: byte counts) without a string; anything else through
    /// `Double(String)`, as before.
    private static func number(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let negative = bytes.first == UInt8(ascii: "-")
        let digits = UnsafeBufferPointer(rebasing: bytes[(negative ? 1 : 0)...])
        if !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            var value = 0
            for digit in digits { value = value * 10 + Int(digit - 48) }
            return negative ? -Double(value) : Double(value)
        }
        return Double(String(decoding: bytes, as: UTF8.self))
    }
}
