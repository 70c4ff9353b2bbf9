// One drive of the install report body parser, shared by the libFuzzer harness (scripts/fuzz.sh compiles it with
// the parser's files, dropping the import) and the corpus replay test (Tests/BootTests links it).
import RackswarmCore

@testable import BootServer

/// Decodes `bytes` as a `POST /report/NODE` body: accepted when it gives a report, whose numbers must be in range
/// (the problem otherwise); anything else is a problem to answer 400 with, never a trap.
func driveInstallReport(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    guard case .success(let report) = ReportBody.decode(bytes) else { return (false, nil) }
    let inRange = (0...100).contains(report.percent) && report.downloaded >= 0
    return (true, inRange ? nil : "report numbers out of range: \(report.percent)%, \(report.downloaded) bytes")
}
