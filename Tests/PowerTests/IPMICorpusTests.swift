import Foundation
import Testing

@testable import Drivers

/// Every input libFuzzer kept for the RMCP/RMCP+/IPMI decoders (Fuzz/corpus/ipmi, grown by scripts/fuzz.sh),
/// replayed on every test run through the harness's own drive (Fuzz/IPMIDrive.swift): each gives a value or an
/// IPMICodecError, never a trap.
struct IPMICorpusTests {
    @Test func corpusReplays() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/ipmi")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count >= 10)
        var decoded = 0
        for file in files {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
            if driveIPMI(bytes) { decoded += 1 }
        }
        #expect(decoded >= 1)
    }
}
