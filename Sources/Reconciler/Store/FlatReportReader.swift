import RackswarmCore

/// Reads an install report as `JSONEncoder` stores it, a flat object of strings, numbers and nulls, without a
/// decoder: a status view of 100,000 nodes reads 100,000 of them. Anything else (an escape in a string, a key it
/// does not know, a missing field) gives nil, and the store decodes that row with `JSONDecoder`.
enum FlatReportReader {
    enum Value {
        case string(String)
        case number(Double)
        case null
    }

    static func report(_ text: String) -> InstallReport? {
        guard let fields = fields(text), fields.count <= 8,
              case .string(let phaseText)? = fields["phase"], let phase = InstallReport.Phase(rawValue: phaseText),
              case .string(let image)? = fields["image"],
              let percent = double(fields["percent"]), let downloaded = int(fields["downloaded"]),
              let uploaded = int(fields["uploaded"]), let fromSeed = int(fields["fromSeed"])
        else { return nil }
        var report = InstallReport(phase: phase, image: image, percent: percent, downloaded: downloaded,
                                   uploaded: uploaded, fromSeed: fromSeed)
        var known = 6
        switch fields["uploadStartedAtPercent"] {
        case nil, .null?: break
        case let value?:
            guard let started = double(value) else { return nil }
            report.uploadStartedAtPercent = started
            known += 1
        }
        switch fields["error"] {
        case nil, .null?: break
        case .string(let error)?:
            report.error = error
            known += 1
        default: return nil
        }
        let nulls = fields.values.filter { if case .null = $0 { true } else { false } }.count
        return known + nulls == fields.count ? report : nil
    }

    private static func double(_ value: Value?) -> Double? {
        if case .number(let number)? = value { return number }
        return nil
    }

    /// Integers up to 2^53 are exact in a Double; larger ones are left to the decoder.
    private static func int(_ value: Value?) -> Int64? {
        guard case .number(let number)? = value, abs(number) <= 9_007_199_254_740_992 else { return nil }
        return Int64(exactly: number)
    }

    /// `{"key":value,…}` with string, number and null values and no escapes; nil for anything else.
    static func fields(_ text: String) -> [String: Value]? {
        let bytes = Array(text.utf8)
        var index = 0
        func at(_ byte: Unicode.Scalar) -> Bool {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: byte) else { return false }
            index += 1
            return true
        }
        func string() -> String? {
            guard at("\"") else { return nil }
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") { return nil }
                index += 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            return String(decoding: bytes[start..<(index - 1)], as: UTF8.self)
        }
        guard at("{") else { return nil }
        var fields: [String: Value] = [:]
        if at("}") { return fields }
        repeat {
            guard let key = string(), at(":"), index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                guard let value = string() else { return nil }
                fields[key] = .string(value)
            } else if bytes[index...].starts(with: "null".utf8) {
                fields[key] = .null
                index += 4
            } else {
                let start = index
                while index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+")
                    || bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e")
                    || (bytes[index] >= 48 && bytes[index] <= 57) {
                    index += 1
                }
                guard let number = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else { return nil }
                fields[key] = .number(number)
            }
        } while at(",")
        guard at("}") else { return nil }
        return index == bytes.count ? fields : nil
    }
}
