/// What a `Range` request header asks of a file of known size (RFC 9110 §14). Pure.
public enum ByteRange: Sendable, Hashable {
    /// Send the whole file with 200: no header, a header we do not serve (several ranges, another unit), or
    /// bad syntax — a server may ignore such a header.
    case full
    /// Send these bytes with 206 and `Content-Range: bytes first-last/size`.
    case partial(ClosedRange<Int>)
    /// No byte of the file is in the range: 416 with `Content-Range: bytes */size`.
    case unsatisfiable

    /// Reads `header` (nil when the request has none) for a file of `size` bytes.
    public static func parse(_ header: String?, size: Int) -> ByteRange {
        guard let header else { return .full }
        let trimmed = header.trimmingSpaces
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .full }
        let spec = trimmed.dropFirst(6).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .full }
        let first = spec[..<dash].trimmingSpaces
        let last = spec[spec.index(after: dash)...].trimmingSpaces
        guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit) else { return .full }
        switch (first.isEmpty, last.isEmpty) {
        case (true, true):
            return .full
        case (true, false):
            // Suffix: the last N bytes.
            guard let count = Int(last) else { return .full }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - count)...(size - 1))
        case (false, _):
            // A start past the file is unsatisfiable whatever the end says (`bytes=34-999…9` on 9 bytes trapped).
            guard let start = Int(first), start < size else { return .unsatisfiable }
            var end = size - 1
            if !last.isEmpty {
                // An end too big for an Int means "to the end of the file".
                guard let requested = Int(last) else { return .partial(start...end) }
                guard requested >= start else { return .full }
                end = min(requested, size - 1)
            }
            return .partial(start...end)
        }
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
