// libFuzzer entry point for the tracker's announce query and its bencoded answer; built by scripts/fuzz.sh with
// AnnounceDrive.swift.
// Property: any query gives a request or nil, never a trap, with its numbers in range; any answer body gives a
// response or a thrown error.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnounce(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problem = driveAnnounce(Array(UnsafeBufferPointer(start: data, count: size))).problem
    precondition(problem == nil, problem ?? "")
    return 0
}

/// Stands in for the session's error type (in TorrentConfiguration.swift, which pulls in the whole session):
/// the answer parser only throws it.
struct TorrentError: Error {
    enum Code { case tracker }
    var code: Code
    var detail: String
}
