import Drivers
import Foundation
import LabSupport
import Testing

@testable import BootServer

/// Every input libFuzzer kept for the Range header and the install report body (Fuzz/corpus, grown by
/// scripts/fuzz.sh), replayed through the real parsers on every test run, by the harnesses' own drives
/// (Fuzz/RangeDrive.swift, Fuzz/InstallReportDrive.swift).
struct BootParserCorpusTests {
    @Test func rangeHeaders() throws {
        let replay = try replayCorpus("range") { (false, driveRange($0)) }
        #expect(replay.inputs >= 10 && replay.problems.isEmpty, "\(replay.problems)")
    }

    @Test func installReports() throws {
        let replay = try replayCorpus("install-report", driveInstallReport)
        #expect(replay.inputs >= 3 && replay.problems.isEmpty, "\(replay.problems)")
        #expect(replay.accepted >= 2)
    }
}
