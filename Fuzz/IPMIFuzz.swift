// libFuzzer entry point for the RMCP/RMCP+ and IPMI decoders; built by scripts/fuzz.sh.
// Property: any datagram, stream of frames, RMCP+ handshake message or IPMI response gives a value or a thrown
// IPMICodecError, never a trap; the stream decoder never consumes a partial frame.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPMI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? RMCPDecoder.decodeDatagram(bytes)
    var decoder = RMCPDecoder()
    // Drip-feed in three pieces, taking every whole frame out as it completes.
    for chunk in [bytes[..<(size / 3)], bytes[(size / 3)..<(2 * size / 3)], bytes[(2 * size / 3)...]] {
        decoder.feed(chunk)
        while let result = try? decoder.next(), case .message = result {}
    }
    _ = try? RMCPPlusHandshake.OpenSessionResponse.decode(bytes)
    _ = try? RMCPPlusHandshake.RAKP2.decode(bytes)
    _ = try? RMCPPlusHandshake.RAKP4.decode(bytes)
    _ = try? IPMIResponse.decode(bytes)
    _ = IPMICommand.decodeBootFlags(bytes)
    return 0
}
