// libFuzzer entry point for the bencode decoder; built by scripts/fuzz.sh.
// Property: the decoder is strict (canonical integers, sorted unique keys), so any input it accepts must
// encode back to exactly the same bytes; anything else must be a thrown BencodeError, never a crash.

@testable import Torrent

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBencode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    let limits = BencodeLimits(maxDepth: 32, maxStringLength: 1 << 16, maxElements: 1 << 14)
    if let value = try? BencodeDecoder.decode(bytes, limits: limits) {
        precondition(BencodeEncoder.encode(value) == bytes, "accepted input does not re-encode to itself")
    }
}
