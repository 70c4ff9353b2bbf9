// One drive of the `Range` header parser, shared by the libFuzzer harness (Fuzz/Harnesses/RangeFuzz.swift) and the
// corpus replay test (Tests/BootTests links it).
@testable import BootServer

/// Reads `bytes` as a file size (the first eight bytes, any Int, the extremes included) and a header (the rest),
/// and parses the header for that size and for 0, 1, 1000 and Int.max: every partial range must lie inside the
/// file. The problem, or nil; inputs under eight bytes are skipped.
func driveRange(_ bytes: [UInt8]) -> String? {
    guard bytes.count >= 8 else { return nil }
    let raw = bytes[..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let fileSize = Int(truncatingIfNeeded: raw) & Int.max
    let header = String(decoding: bytes[8...], as: UTF8.self)
    for size in [fileSize, 0, 1, 1000, Int.max] {
        if case .partial(let range) = ByteRange.parse(header, size: size),
            range.lowerBound < 0 || range.upperBound >= size {
            return "range \(range) outside \(size)"
        }
    }
    return nil
}
