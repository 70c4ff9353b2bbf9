import Drivers
import Foundation
import LabSupport
import Testing

/// Every input libFuzzer kept for the service frame parser (Fuzz/corpus/service-frame, grown by scripts/fuzz.sh),
/// replayed on every test run through the harness's own drive (Fuzz/ServiceFrameDrive.swift): whole and split in two
/// it gives the same events, and parsed messages re-encode.
struct ServiceFrameCorpusTests {
    @Test func corpusReplays() throws {
        let replay = try replayCorpus("service-frame") { (false, driveServiceFrame($0)) }
        #expect(replay.inputs >= 10 && replay.problems.isEmpty, "\(replay.problems)")
    }
}
