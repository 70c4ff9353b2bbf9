// One drive of the install report body parser, shared by the libFuzzer harness (Fuzz/Harnesses/InstallReportFuzz.swift)
// and the corpus replay test (Tests/BootTests links it).
import RackswarmCore

@testable import BootServer

/// Decodes `bytes` as a `POST /report/NODE` body: accepted when it gives a report, which must keep every promise the
/// parser makes to what reads the store (the problem otherwise); anything else is a problem to answer 400 with,
/// never a trap.
func driveInstallReport(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    guard case .success(let report) = ReportBody.decode(bytes) else { return (false, nil) }
    let counters = 0...ReportBody.maxCounter
    let inRange = (0...100).contains(report.percent) && (report.uploadStartedAtPercent.map { (0...100).contains($0) }
        ?? true) && counters.contains(report.downloaded) && counters.contains(report.uploaded)
        && counters.contains(report.fromSeed) && (report.phase != .failed || !(report.error ?? "").isEmpty)
    return (true, inRange ? nil : "a report breaks a promise of the parser: \(report)")
}
