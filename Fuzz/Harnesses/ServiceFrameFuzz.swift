// libFuzzer entry point for the service request frame parser; built by scripts/fuzz.sh with ServiceFrameDrive.swift.
// Property: any bytes, fed whole and then in two pieces, give the same messages or errors, never a trap, and a
// parsed message encodes back to a frame that parses to itself.

import FuzzDriver
@testable import Drivers

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum ServiceFrameHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServiceFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveServiceFrame(Array(UnsafeBufferPointer(start: data, count: size)))
    precondition(problem == nil, problem ?? "")
    return 0
}
