// libFuzzer entry point for the install report body (`POST /report/NODE`); built by scripts/fuzz.sh with
// InstallReportDrive.swift.
// Property: any body gives a checked report or a problem to answer 400 with, never a trap.

import FuzzDriver
@testable import BootServer
@testable import RackswarmCore

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum InstallReportHarness {
    static func main() { runLibFuzzer() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInstallReport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveInstallReport(Array(UnsafeBufferPointer(start: data, count: size))).problem
    precondition(problem == nil, problem ?? "")
    return 0
}
