// libFuzzer entry point for the BitTorrent peer wire parser (handshake, then length-prefixed messages); built by
// scripts/fuzz.sh with PeerWireDrive.swift.
// Property: the same events (handshakes, messages, then at most one error) whether the stream arrives whole or a
// few bytes at a time; a partial frame or a rejected one is never consumed; every parsed frame encodes back to
// exactly the bytes it was parsed from.

import FuzzDriver
import NIOCore

@testable import Torrent

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum PeerWireHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPeerWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = drivePeerWire(Array(UnsafeBufferPointer(start: data, count: size))).problem
    precondition(problem == nil, problem ?? "")
    return 0
}
