// One drive of the RMCP/RMCP+ and IPMI decoders, shared by the libFuzzer harness (scripts/fuzz.sh compiles it with
// the decoders' files, dropping the import) and the corpus replay test (Tests/PowerTests links it).
@testable import Drivers

/// Gives `bytes` to every decoder: as one datagram, as a stream drip-fed in three pieces (every whole frame taken
/// out as it completes), and as each RMCP+ handshake message and IPMI response. True when it decoded as a datagram.
@discardableResult
func driveIPMI(_ bytes: [UInt8]) -> Bool {
    let datagram = (try? RMCPDecoder.decodeDatagram(bytes)) != nil
    var decoder = RMCPDecoder()
    let size = bytes.count
    for chunk in [bytes[..<(size / 3)], bytes[(size / 3)..<(2 * size / 3)], bytes[(2 * size / 3)...]] {
        decoder.feed(chunk)
        while let result = try? decoder.next(), case .message = result {}
    }
    _ = try? RMCPPlusHandshake.OpenSessionResponse.decode(bytes)
    _ = try? RMCPPlusHandshake.RAKP2.decode(bytes)
    _ = try? RMCPPlusHandshake.RAKP4.decode(bytes)
    _ = try? IPMIResponse.decode(bytes)
    _ = IPMICommand.decodeBootFlags(bytes)
    return datagram
}
