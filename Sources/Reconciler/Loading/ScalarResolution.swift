import ReconcilerModel

/// What a plain YAML 1.1 scalar resolves to when no type is expected (the rules PyYAML and most YAML 1.1 tools
/// use). The loader refuses a plain scalar that resolves to a number, boolean or date where a string belongs, so it
/// accepts exactly what a JSON Schema validator fed by a YAML 1.1 parser accepts.
enum PlainScalarType: Equatable {
    case null, bool, int, float, timestamp, string

    var name: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .float: "a number"
        case .timestamp: "a date"
        case .string: "a string"
        }
    }

    init(resolving text: String) {
        guard let first = text.utf8.first else {
            self = .null
            return
        }
        // Fast path: a scalar starting with a letter that no YAML 1.1 boolean or null starts with is a string.
        if Self.isPlainStringStart(first) {
            self = .string
            return
        }
        // A letter start is a string unless the whole scalar is a boolean or null word: each is at most five
        // letters (numbers, floats and dates start with a digit, a sign or a dot). `n12`, `on-call`: strings.
        if Self.isLetter(first) {
            self = text.utf8.count > 5 || !text.utf8.allSatisfy(Self.isLetter) ? .string : Self.word(text.utf8)
            return
        }
        let bytes = Array(text.utf8)
        if text == "~" {
            self = .null
        } else if Self.isInt(bytes) {
            self = .int
        } else if Self.isFloat(bytes) {
            self = .float
        } else if Self.isTimestamp(bytes) {
            self = .timestamp
        } else {
            self = .string
        }
    }

    /// One to five ASCII letters: null, a boolean, or a string. The words are matched in the three spellings
    /// YAML 1.1 knows (`null`, `Null`, `NULL`), without building a string or hashing one.
    private static func word(_ letters: String.UTF8View) -> PlainScalarType {
        var folded: UInt64 = 0
        var lower = 0
        for byte in letters {
            folded = folded << 8 | UInt64(byte | 0x20)
            if byte & 0x20 != 0 { lower += 1 }
        }
        let capitalised = lower == letters.count - 1 && letters.first.map { $0 & 0x20 == 0 } == true
        guard lower == letters.count || lower == 0 || capitalised else { return .string }
        return folded == nullWord ? .null : booleanWords.contains(folded) ? .bool : .string
    }

    private static let nullWord = fold("null")
    private static let booleanWords = ["yes", "no", "true", "false", "on", "off"].map { fold($0) }

    /// A lower-case word of up to eight ASCII letters as one integer, as `word` folds its letters.
    private static func fold(_ word: String) -> UInt64 {
        word.utf8.reduce(0) { $0 << 8 | UInt64($1) }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) }

    private static func isPlainStringStart(_ byte: UInt8) -> Bool {
        guard isLetter(byte) else { return byte == UInt8(ascii: "/") || byte == UInt8(ascii: "_") }
        switch byte | 0x20 {
        case UInt8(ascii: "y"), UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "o"): return false
        default: return true
        }
    }

    static let booleans: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ]

    static let trueWords: Set<String> = ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]

    private static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    private static func dropSign(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            return bytes.dropFirst()
        }
        return bytes[...]
    }

    static func isInt(_ bytes: [UInt8]) -> Bool {
        let body = dropSign(bytes)
        guard let first = body.first else { return false }
        let rest = body.dropFirst()
        let underscore = UInt8(ascii: "_")
        if first == UInt8(ascii: "0") {
            if rest.isEmpty { return true }
            let marker = rest.first
            let digits = rest.dropFirst()
            if marker == UInt8(ascii: "b") {
                return !digits.isEmpty && digits.allSatisfy { $0 == 48 || $0 == 49 || $0 == underscore }
            }
            if marker == UInt8(ascii: "x") {
                return !digits.isEmpty && digits.allSatisfy {
                    isDigit($0) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) || $0 == underscore
                }
            }
            return rest.allSatisfy { ($0 >= 48 && $0 <= 55) || $0 == underscore }
        }
        guard first >= 49 && first <= 57 else { return false }
        if rest.allSatisfy({ isDigit($0) || $0 == underscore }) { return true }
        return body.contains(UInt8(ascii: ":")) && isSexagesimal(body, allowFraction: false)
    }

    /// `[1-9][0-9_]*(:[0-5]?[0-9])+`, optionally followed by `.[0-9_]*` for floats.
    private static func isSexagesimal(_ body: ArraySlice<UInt8>, allowFraction: Bool) -> Bool {
        var groups = body.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard groups.count >= 2, let head = groups.first, let headFirst = head.first,
              headFirst >= 49 && headFirst <= 57,
              head.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: "_") }) else { return false }
        if allowFraction, var last = groups.popLast() {
            guard let dot = last.firstIndex(of: UInt8(ascii: ".")) else { return false }
            let fraction = last[(dot + 1)...]
            guard fraction.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: "_") }) else { return false }
            last = last[..<dot]
            groups.append(last)
        }
        for group in groups.dropFirst() {
            guard (1...2).contains(group.count), group.allSatisfy(isDigit) else { return false }
            if group.count == 2, let lead = group.first, lead > UInt8(ascii: "5") { return false }
        }
        return true
    }

    static func isFloat(_ bytes: [UInt8]) -> Bool {
        // Two dots (an IP address, a version like 7.9.2009) can never be a YAML 1.1 float.
        var dots = 0
        for byte in bytes where byte == UInt8(ascii: ".") { dots += 1 }
        guard dots == 1 else { return false }
        if bytes.count <= 5 {
            let text = String(decoding: bytes, as: UTF8.self)
            if [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"]
                .contains(text) { return true }
        }
        let body = dropSign(bytes)
        guard let dot = body.firstIndex(of: UInt8(ascii: ".")) else { return false }
        if body.contains(UInt8(ascii: ":")) { return isSexagesimal(body, allowFraction: true) }
        let whole = body[..<dot]
        var fraction = body[(dot + 1)...]
        if let e = fraction.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            let exponent = fraction[(e + 1)...]
            guard let sign = exponent.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
                  exponent.count > 1, exponent.dropFirst().allSatisfy(isDigit) else { return false }
            fraction = fraction[..<e]
        }
        guard fraction.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: "_") }) else { return false }
        if whole.isEmpty {
            // `.5` needs at least one fraction digit and no sign? PyYAML allows `\.[0-9_]+` unsigned.
            return !fraction.isEmpty && bytes.first == UInt8(ascii: ".")
        }
        guard let lead = whole.first, isDigit(lead) else { return false }
        return whole.allSatisfy { isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// `YYYY-M-D…`: PyYAML turns these into dates.
    static func isTimestamp(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 8, bytes[0...3].allSatisfy(isDigit), bytes[4] == UInt8(ascii: "-") else { return false }
        var index = 5
        var monthDigits = 0
        while index < bytes.count, isDigit(bytes[index]) { index += 1; monthDigits += 1 }
        guard (1...2).contains(monthDigits), index < bytes.count, bytes[index] == UInt8(ascii: "-") else {
            return false
        }
        index += 1
        var dayDigits = 0
        while index < bytes.count, isDigit(bytes[index]) { index += 1; dayDigits += 1 }
        guard (1...2).contains(dayDigits) else { return false }
        if index == bytes.count { return monthDigits == 2 && dayDigits == 2 }
        let next = bytes[index]
        return next == UInt8(ascii: "T") || next == UInt8(ascii: "t") || next == UInt8(ascii: " ")
            || next == UInt8(ascii: "\t")
    }
}
