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
        let inputs = try fuzzCorpus("range")
        #expect(inputs.count >= 10)
        for (file, bytes) in inputs {
            let problem = driveRange(bytes)
            #expect(problem == nil, "\(file): \(problem ?? "")")
        }
    }

    @Test func installReports() throws {
        let inputs = try fuzzCorpus("install-report")
        #expect(inputs.count >= 3)
        var accepted = 0
        for (file, bytes) in inputs {
            let verdict = driveInstallReport(bytes)
            #expect(verdict.problem == nil, "\(file): \(verdict.problem ?? "")")
            if verdict.accepted { accepted += 1 }
        }
        #expect(accepted >= 2)
    }
}
