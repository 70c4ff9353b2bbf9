// libFuzzer entry point for .torrent metainfo; built by scripts/fuzz.sh with MetainfoDrive.swift.
// Property: any bytes give a Metainfo or a thrown error, never a trap; an accepted one has consistent pieces.

import FuzzDriver
@testable import Torrent

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum MetainfoHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetainfo(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveMetainfo(Array(UnsafeBufferPointer(start: data, count: size))).problem
    precondition(problem == nil, problem ?? "")
    return 0
}
