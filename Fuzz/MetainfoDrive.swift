// One drive of the .torrent metainfo parser, shared by the libFuzzer harness (Fuzz/Harnesses/MetainfoFuzz.swift) and
// the corpus replay test (Tests/TorrentTests links it).
@testable import Torrent

/// Parses `bytes` as metainfo: accepted when it gives one, whose pieces must be consistent (each non-empty and at
/// most the piece length, adding up to the length when there are at most 4096); the problem, or nil.
func driveMetainfo(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    guard let metainfo = try? Metainfo(bytes: bytes) else { return (false, nil) }
    guard metainfo.pieceCount >= 0 && metainfo.pieceLength > 0 else { return (true, "no pieces or piece length") }
    var total: Int64 = 0
    for index in 0..<min(metainfo.pieceCount, 4096) {
        let pieceSize = metainfo.size(ofPiece: index)
        guard pieceSize > 0 && pieceSize <= metainfo.pieceLength else {
            return (true, "piece \(index) has \(pieceSize) bytes")
        }
        total += Int64(pieceSize)
    }
    if metainfo.pieceCount <= 4096 && total != metainfo.length { return (true, "pieces do not add up to the length") }
    _ = metainfo.encoded()
    return (true, nil)
}
