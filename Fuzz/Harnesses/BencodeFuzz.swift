// libFuzzer entry point for the bencode decoder; built by scripts/fuzz.sh with BencodeDrive.swift.
// Property: the decoder is strict (canonical integers, sorted unique keys), so any input it accepts must
// encode back to exactly the same bytes; anything else must be a thrown BencodeError, never a crash.

import FuzzDriver
@testable import Torrent

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum BencodeHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBencode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveBencode(Array(UnsafeBufferPointer(start: data, count: size))).problem
    precondition(problem == nil, problem ?? "")
    return 0
}
