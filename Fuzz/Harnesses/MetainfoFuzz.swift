// libFuzzer entry point for .torrent metainfo; built by scripts/fuzz.sh.
// Property: any bytes give a Metainfo or a thrown error, never a trap; an accepted one has consistent pieces.

@testable import Torrent

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetainfo(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    guard let metainfo = try? Metainfo(bytes: bytes) else { return 0 }
    precondition(metainfo.pieceCount >= 0 && metainfo.pieceLength > 0)
    var total: Int64 = 0
    for index in 0..<min(metainfo.pieceCount, 4096) {
        let pieceSize = metainfo.size(ofPiece: index)
        precondition(pieceSize > 0 && pieceSize <= metainfo.pieceLength)
        total += Int64(pieceSize)
    }
    if metainfo.pieceCount <= 4096 { precondition(total == metainfo.length, "pieces do not add up to the length") }
    _ = metainfo.encoded()
}
