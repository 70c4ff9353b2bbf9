extension Duration {
    /// Parses `90s`, `5m`, `1h30m`, `250ms`; a bare number is seconds.
    public init?(parsing text: String) {
        if let seconds = Int(text), seconds >= 0 {
            self = .seconds(seconds)
            return
        }
        var total: Duration = .zero
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let value = Int(number) else { return false }
            switch unit {
            case "ms": total += .milliseconds(value)
            case "s": total += .seconds(value)
            case "m": total += .seconds(value * 60)
            case "h": total += .seconds(value * 3600)
            case "d": total += .seconds(value * 86400)
            default: return false
            }
            number = ""
            unit = ""
            sawAny = true
            return true
        }
        for character in text {
            if character.isASCII && character.isNumber {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isASCII && character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard flush(), sawAny else { return nil }
        self = total
    }

    /// Whole seconds, for JSON output and comparisons.
    public var wholeSeconds: Int64 { components.seconds }
}

/// Parses `4MiB`, `512KiB`, `1GiB`, `4194304` into a byte count.
public func parseByteSize(_ text: String) -> Int? {
    if let value = Int(text), value >= 0 { return value }
    let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
                                  ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("k", 1 << 10),
                                  ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        guard let value = Int(text.dropLast(suffix.count)), value >= 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }
    return nil
}
