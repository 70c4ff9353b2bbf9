// libFuzzer entry point for the bencode decoder; built by scripts/fuzz-bencode.sh, not by SwiftPM.
// Property: the decoder is strict (canonical integers, sorted unique keys), so any input it accepts must
// encode back to exactly the same bytes; anything else must be a thrown BencodeError, never a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBencode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = BencodeLimits(maxDepth: 32, maxStringLength: 1 << 16, maxElements: 1 << 14)
    if let value = try? BencodeDecoder.decode(bytes, limits: limits) {
        precondition(BencodeEncoder.encode(value) == bytes, "accepted input does not re-encode to itself")
    }
    return 0
}
