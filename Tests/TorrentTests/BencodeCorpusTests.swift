import Foundation
import LabSupport
import Testing

@testable import Torrent

/// Replays the libFuzzer corpus (Fuzz/corpus/bencode, grown by scripts/fuzz.sh) on every test run, through the
/// harness's own drive (Fuzz/BencodeDrive.swift).
struct BencodeCorpusTests {
    @Test func everyCorpusInputDecodesCanonicallyOrThrows() throws {
        let inputs = try fuzzCorpus("bencode")
        #expect(inputs.count >= 5)
        var accepted = 0
        for (file, bytes) in inputs {
            let verdict = driveBencode(bytes)
            #expect(verdict.problem == nil, "\(file): \(verdict.problem ?? "")")
            if verdict.accepted { accepted += 1 }
        }
        #expect(accepted >= 5)
    }
}
