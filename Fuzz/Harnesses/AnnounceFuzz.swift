// libFuzzer entry point for the tracker: its announce query and bencoded answer parsers, and its handler; built by
// scripts/fuzz.sh with AnnounceDrive.swift.
// Property: any query gives a request or nil, never a trap, with its numbers in range; any answer body gives a
// response or a thrown error; each line sent to one tracker gets a bencoded answer that never hands a peer its own
// address (see driveTracker).

import FuzzDriver
@testable import Torrent

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum AnnounceHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnounce(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let problem = driveAnnounce(bytes).problem ?? driveTracker(bytes)
    precondition(problem == nil, problem ?? "")
    return 0
}
