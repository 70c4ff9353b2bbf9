import Drivers
import Foundation
import Testing

/// Every input libFuzzer kept for the service frame parser (Fuzz/corpus/service-frame, grown by scripts/fuzz.sh),
/// replayed on every test run through the harness's own drive (Fuzz/ServiceFrameDrive.swift): whole and split in two
/// it gives the same events, and parsed messages re-encode.
struct ServiceFrameCorpusTests {
    @Test func corpusReplays() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/service-frame")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count >= 10)
        for file in files {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
            let problem = driveServiceFrame(bytes)
            #expect(problem == nil, "\(file): \(problem ?? "")")
        }
    }
}
