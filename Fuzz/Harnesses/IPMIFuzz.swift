// libFuzzer entry point for the RMCP/RMCP+ and IPMI decoders and the IPMI session machine; built by scripts/fuzz.sh
// with IPMIDrive.swift.
// Property: any datagram, stream of frames, RMCP+ handshake message, IPMI response or encrypted session payload gives
// a value or a thrown IPMICodecError, never a trap; the stream decoder never consumes a partial frame; a session
// machine given any datagrams as a BMC's answers never traps; a sealed payload opens to itself.

import FuzzDriver
@testable import Drivers

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum IPMIHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPMI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveIPMI(Array(UnsafeBufferPointer(start: data, count: size))).problem
    precondition(problem == nil, problem ?? "")
    return 0
}
