// One drive of the tracker's announce query and answer parsers, shared by the libFuzzer harness (scripts/fuzz.sh
// compiles it with the parsers' files, dropping the import) and the corpus replay test (Tests/TorrentTests links it).
@testable import Torrent

/// Parses `bytes` as an announce query (accepted when it gives a request, whose port must be in range: the problem
/// otherwise) and as a bencoded answer (a response or a thrown error); never a trap.
func driveAnnounce(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    var result: (accepted: Bool, problem: String?) = (false, nil)
    if let request = AnnounceRequest(query: String(decoding: bytes, as: UTF8.self)) {
        result = (true, (0...65535).contains(request.port) ? nil : "port \(request.port) out of range")
        _ = request.query
    }
    _ = try? AnnounceResponse(bencoded: bytes)
    return result
}
