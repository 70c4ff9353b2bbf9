import Foundation
import Testing

@testable import Drivers

/// Every input libFuzzer kept for the RMCP/RMCP+/IPMI decoders (Fuzz/corpus/ipmi, grown by scripts/fuzz.sh),
/// replayed on every test run: each gives a value or an IPMICodecError, never a trap.
struct IPMICorpusTests {
    @Test func corpusReplays() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/ipmi")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count >= 10)
        var decoded = 0
        for file in files {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
            if (try? RMCPDecoder.decodeDatagram(bytes)) != nil { decoded += 1 }
            var decoder = RMCPDecoder()
            decoder.feed(bytes)
            while let result = try? decoder.next(), case .message = result {}
            _ = try? RMCPPlusHandshake.OpenSessionResponse.decode(bytes)
            _ = try? RMCPPlusHandshake.RAKP2.decode(bytes)
            _ = try? RMCPPlusHandshake.RAKP4.decode(bytes)
            _ = try? IPMIResponse.decode(bytes)
            _ = IPMICommand.decodeBootFlags(bytes)
        }
        #expect(decoded >= 1)
    }
}
