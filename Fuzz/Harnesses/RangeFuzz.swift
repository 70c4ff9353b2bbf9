// libFuzzer entry point for the `Range` header parser; built by scripts/fuzz.sh.
// Property: any header and any file size gives a range inside the file (or full/unsatisfiable), never a trap.

@testable import BootServer

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRange(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    guard bytes.count >= 8 else { return 0 }
    // The first eight bytes pick the file size (any Int, the extremes included), the rest is the header.
    let raw = bytes[..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let fileSize = Int(truncatingIfNeeded: raw) & Int.max
    let header = String(decoding: bytes[8...], as: UTF8.self)
    switch ByteRange.parse(header, size: fileSize) {
    case .full, .unsatisfiable: break
    case .partial(let range):
        precondition(range.lowerBound >= 0 && range.upperBound < fileSize, "range \(range) outside \(fileSize)")
    }
}
