/// Sizes and durations as people write them, in the site's YAML and on every command line: one grammar, one
/// meaning per unit, checked arithmetic, and a range whose bounds the error names.
///
/// Sizes: a whole number of bytes, optionally with a unit. Binary units are `K`, `M`, `G`, `T` and their
/// spelled-out forms `KiB`, `MiB`, `GiB`, `TiB` (2¹⁰, 2²⁰, 2³⁰, 2⁴⁰); decimal units are `kB`/`KB`, `MB`, `GB`,
/// `TB` (10³, 10⁶, 10⁹, 10¹²); `B` is one byte. So `4M` = `4MiB` = 4194304 and `4MB` = 4000000 (dd's convention).
///
/// Durations: a number of seconds (with at most six decimals: `90`, `0.5`, `0.00005`), or one or more whole
/// number-unit pairs with units `us` (also `µs`, `μs`), `ms`, `s`, `m`, `h`, `d` (`50us`, `250ms`, `90s`, `5m`,
/// `1h30m`, `2d`). The smallest unit is the microsecond; each caller's range says what it accepts.
///
/// Nothing here traps: a number too big for 64 bits, or a sum past the caller's limit, is a `QuantityError`.
public enum Quantity {
    /// The durations a site or an operator may ask for, from 1 ms to 366 days: long enough for any timeout or
    /// interval, short enough that adding one to a clock reading can never overflow.
    public static let durations: ClosedRange<Duration> = .milliseconds(1) ... .seconds(366 * 86400)

    /// Reads a size, which must lie in `range`.
    public static func bytes(_ text: String, in range: ClosedRange<Int64>) throws(QuantityError) -> Int64 {
        let digits = text.prefix(while: \.isASCIIDigit)
        guard !digits.isEmpty, let factor = byteUnits[String(text.dropFirst(digits.count))] else {
            throw QuantityError("malformed size '\(clip(text))'",
                                hint: "write it like 4194304, 4MiB (or 4M, binary) or 4MB (decimal)")
        }
        // A number past Int64 is as out of range as a product past it.
        let (value, overflow) = Int64(digits).map { $0.multipliedReportingOverflow(by: factor) } ?? (0, true)
        guard !overflow, range.contains(value) else {
            throw QuantityError("size '\(clip(text))' is out of range: it must be between "
                + "\(describe(bytes: range.lowerBound)) and \(describe(bytes: range.upperBound))")
        }
        return value
    }

    /// Reads a duration, which must lie in `range`.
    public static func duration(_ text: String, in range: ClosedRange<Duration>) throws(QuantityError) -> Duration {
        // Microseconds in an Int64 reach 292 thousand years: far past any limit, so the sum is checked against
        // the overflow and then against the range.
        var microseconds: Int64 = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { throw malformedDuration(text) }
        if let dot = rest.firstIndex(of: "."), rest[..<dot].allSatisfy(\.isASCIIDigit),
           (1...6).contains(rest[rest.index(after: dot)...].count),
           rest[rest.index(after: dot)...].allSatisfy(\.isASCIIDigit) {
            // Decimal seconds: `0.5` is `500000us`.
            let fraction = rest[rest.index(after: dot)...]
            rest = rest[..<dot] + "s" + fraction + String(repeating: "0", count: 6 - fraction.count) + "us"
        } else if rest.allSatisfy(\.isASCIIDigit) {
            rest += "s"
        }
        var outOfRange = false
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isASCIIDigit)
            let unit = rest.dropFirst(digits.count).prefix { !$0.isASCIIDigit }
            guard !digits.isEmpty, let factor = durationUnits[String(unit)] else { throw malformedDuration(text) }
            rest = rest.dropFirst(digits.count + unit.count)
            guard let number = Int64(digits) else {
                outOfRange = true
                continue
            }
            let (product, overflow) = number.multipliedReportingOverflow(by: factor)
            let (sum, overflowSum) = microseconds.addingReportingOverflow(product)
            if overflow || overflowSum { outOfRange = true } else { microseconds = sum }
        }
        let value = Duration.microseconds(microseconds)
        guard !outOfRange, range.contains(value) else {
            throw QuantityError("duration '\(clip(text))' is out of range: it must be between "
                + "\(describe(range.lowerBound)) and \(describe(range.upperBound))")
        }
        return value
    }

    /// Transfer rates in bytes per second, from 1 KiB/s to 1 TiB/s.
    public static let rates: ClosedRange<Int64> = 1 << 10 ... 1 << 40

    /// Torrent piece sizes the site and `image publish` accept, from 16 KiB to 64 MiB (powers of two).
    public static let pieceSizes: ClosedRange<Int64> = 16 << 10 ... 64 << 20

    /// A command-line flag's parser (swift-argument-parser's `transform:`) for a duration in `range`.
    public static func durationFlag(
        in range: ClosedRange<Duration> = durations
    ) -> @Sendable (String) throws -> Duration {
        { text in try duration(text, in: range) }
    }

    /// A command-line flag's parser (swift-argument-parser's `transform:`) for a size in `range`.
    public static func bytesFlag(in range: ClosedRange<Int64>) -> @Sendable (String) throws -> Int64 {
        { text in try bytes(text, in: range) }
    }

    /// The shortest exact text for a size, in binary units when it divides evenly (`4MiB`, `1000B`).
    public static func describe(bytes: Int64) -> String {
        for (unit, factor) in [("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes != 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)B"
    }

    /// A size rounded for people in binary units, one decimal (`117.7 MiB`, `512 B`): progress lines and limits.
    public static func rounded(bytes count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(decimal(value, digits: 1)) \(units[unit])"
    }

    /// `value` with exactly `digits` decimals (`3.140`), without Foundation's locale-dependent formatting.
    public static func decimal(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = abs(scaled % Int(scale))
        let fractionText = String(fraction)
        return "\(whole).\(String(repeating: "0", count: max(0, digits - fractionText.count)))\(fractionText)"
    }

    /// The text for a duration in the largest unit that divides it (`366d`, `90s`, `250ms`, `50us`); below a
    /// microsecond is cut off, as the grammar cannot write it.
    public static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let micro = attoseconds / 1_000_000_000_000
        if micro % 1000 != 0 { return "\(seconds * 1_000_000 + micro)us" }
        if micro != 0 { return "\(seconds * 1000 + micro / 1000)ms" }
        for (unit, factor) in [("d", Int64(86400)), ("h", 3600), ("m", 60)]
        where seconds != 0 && seconds % factor == 0 {
            return "\(seconds / factor)\(unit)"
        }
        return "\(seconds)s"
    }

    static let byteUnits: [String: Int64] = [
        "": 1, "B": 1,
        "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20,
        "G": 1 << 30, "GiB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40,
        "kB": 1000, "KB": 1000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000,
    ]

    /// Microseconds per unit; `µs` is the micro sign (U+00B5), `μs` the Greek mu (U+03BC): both are typed.
    static let durationUnits: [String: Int64] = [
        "us": 1, "\u{B5}s": 1, "\u{3BC}s": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000,
        "d": 86_400_000_000,
    ]

    static func malformedDuration(_ text: String) -> QuantityError {
        QuantityError("malformed duration '\(clip(text))'", hint: "write it like 30s, 5m or 1h30m")
    }

    /// Quotes at most 40 characters of what was typed, so a hostile value cannot flood the error.
    static func clip(_ text: some StringProtocol) -> String {
        text.count <= 40 ? String(text) : String(text.prefix(40)) + "…"
    }
}

/// A size or duration that is malformed or out of range; `message` says which, and names the limits.
public struct QuantityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a diagnostic's message.
    public var message: String
    /// How to write it instead, for a diagnostic's note; nil when the value was well formed.
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    /// The message and hint in one line, for a command-line error.
    public var description: String { hint.map { "\(message); \($0)" } ?? message }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
