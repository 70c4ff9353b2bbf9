import LabSupport
import Testing

/// Every input libFuzzer kept for the peer wire parser (Fuzz/corpus/peer-wire, grown by `scripts/fuzz.sh 60
/// peer-wire`), replayed through the harness's drive (Fuzz/PeerWireDrive.swift): the same events whole or
/// drip-fed, nothing partial or rejected consumed, every frame encoding back to its bytes.
struct PeerWireCorpusTests {
    @Test func corpusHoldsTheHarnessProperties() throws {
        let inputs = try fuzzCorpus("peer-wire")
        #expect(inputs.count >= 5)
        var messages = 0
        for (file, bytes) in inputs {
            let verdict = drivePeerWire(bytes)
            #expect(verdict.problem == nil, "\(file): \(verdict.problem ?? "")")
            messages += verdict.messages
        }
        // The seeds hold every message type: the corpus exercises more than the handshake.
        #expect(messages >= 17)
    }
}
