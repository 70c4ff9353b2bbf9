import Foundation
import LabSupport
import Testing

@testable import Torrent

/// Replays the libFuzzer corpus (Fuzz/corpus/bencode, grown by scripts/fuzz.sh) on every test run, through the
/// harness's own drive (Fuzz/BencodeDrive.swift).
struct BencodeCorpusTests {
    @Test func everyCorpusInputDecodesCanonicallyOrThrows() throws {
        let replay = try replayCorpus("bencode", driveBencode)
        #expect(replay.inputs >= 5 && replay.problems.isEmpty, "\(replay.problems)")
        #expect(replay.accepted >= 5)
    }
}
