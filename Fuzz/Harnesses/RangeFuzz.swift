// libFuzzer entry point for the `Range` header parser; built by scripts/fuzz.sh with RangeDrive.swift.
// Property: any header and any file size gives a range inside the file (or full/unsatisfiable), never a trap.

import FuzzDriver
@testable import BootServer

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum RangeHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRange(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveRange(Array(UnsafeBufferPointer(start: data, count: size)))
    precondition(problem == nil, problem ?? "")
    return 0
}
