import Drivers
import Foundation
import LabSupport
import Testing

/// Every input libFuzzer kept for the service frame parser (Fuzz/corpus/service-frame, grown by scripts/fuzz.sh),
/// replayed on every test run through the harness's own drive (Fuzz/ServiceFrameDrive.swift): whole and split in two
/// it gives the same events, and parsed messages re-encode.
struct ServiceFrameCorpusTests {
    @Test func corpusReplays() throws {
        let inputs = try fuzzCorpus("service-frame")
        #expect(inputs.count >= 10)
        for (file, bytes) in inputs {
            let problem = driveServiceFrame(bytes)
            #expect(problem == nil, "\(file): \(problem ?? "")")
        }
    }
}
