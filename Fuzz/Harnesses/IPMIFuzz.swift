// libFuzzer entry point for the RMCP/RMCP+ and IPMI decoders; built by scripts/fuzz.sh with IPMIDrive.swift.
// Property: any datagram, stream of frames, RMCP+ handshake message or IPMI response gives a value or a thrown
// IPMICodecError, never a trap; the stream decoder never consumes a partial frame.

@testable import Drivers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPMI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    driveIPMI(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
