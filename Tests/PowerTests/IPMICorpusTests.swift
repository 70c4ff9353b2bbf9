import Foundation
import LabSupport
import Testing

@testable import Drivers

/// Every input libFuzzer kept for the RMCP/RMCP+/IPMI decoders (Fuzz/corpus/ipmi, grown by scripts/fuzz.sh),
/// replayed on every test run through the harness's own drive (Fuzz/IPMIDrive.swift): each gives a value or an
/// IPMICodecError, never a trap.
struct IPMICorpusTests {
    @Test func corpusReplays() throws {
        let inputs = try fuzzCorpus("ipmi").map(\.bytes)
        #expect(inputs.count >= 10)
        var decoded = 0
        for bytes in inputs {
            if driveIPMI(bytes) { decoded += 1 }
        }
        #expect(decoded >= 1)
    }
}
