// One drive of the bencode decoder, shared by the libFuzzer harness (Fuzz/Harnesses/BencodeFuzz.swift) and the corpus
// replay test (Tests/TorrentTests links it).
@testable import Torrent

/// Decodes `bytes` strictly: accepted when it decodes, and then it must encode back to exactly the same bytes
/// (the problem otherwise); anything else must be a thrown error, never a trap.
func driveBencode(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    let limits = BencodeLimits(maxDepth: 32, maxStringLength: 1 << 16, maxElements: 1 << 14)
    guard let value = try? BencodeDecoder.decode(bytes, limits: limits) else { return (false, nil) }
    return (true, BencodeEncoder.encode(value) == bytes ? nil : "accepted input does not re-encode to itself")
}
