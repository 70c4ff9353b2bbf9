// libFuzzer entry point for the install report body (`POST /report/NODE`); built by scripts/fuzz.sh.
// Property: any body gives a checked report or a problem to answer 400 with, never a trap.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInstallReport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .success(let report) = ReportBody.decode(bytes) {
        precondition((0...100).contains(report.percent) && report.downloaded >= 0)
    }
    return 0
}
