// libFuzzer entry point for the install report body (`POST /report/NODE`); built by scripts/fuzz.sh.
// Property: any body gives a checked report or a problem to answer 400 with, never a trap.

@testable import BootServer
@testable import RackswarmCore

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInstallReport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    if case .success(let report) = ReportBody.decode(bytes) {
        precondition((0...100).contains(report.percent) && report.downloaded >= 0)
    }
}
