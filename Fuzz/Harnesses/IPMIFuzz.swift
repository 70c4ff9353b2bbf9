// libFuzzer entry point for the RMCP/RMCP+ and IPMI decoders; built by scripts/fuzz.sh.
// Property: any datagram, stream of frames, RMCP+ handshake message or IPMI response gives a value or a thrown
// IPMICodecError, never a trap; the stream decoder never consumes a partial frame.

@testable import Drivers

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPMI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    _ = try? RMCPDecoder.decodeDatagram(bytes)
    var decoder = RMCPDecoder()
    // Drip-feed in three pieces, taking every whole frame out as it completes.
    let third = bytes.count / 3
    for chunk in [bytes[..<third], bytes[third..<(2 * third)], bytes[(2 * third)...]] {
        decoder.feed(chunk)
        while let result = try? decoder.next(), case .message = result {}
    }
    _ = try? RMCPPlusHandshake.OpenSessionResponse.decode(bytes)
    _ = try? RMCPPlusHandshake.RAKP2.decode(bytes)
    _ = try? RMCPPlusHandshake.RAKP4.decode(bytes)
    _ = try? IPMIResponse.decode(bytes)
    _ = IPMICommand.decodeBootFlags(bytes)
}
