import Foundation
import LabSupport
import Testing

@testable import Torrent

/// Replays the libFuzzer corpus (Fuzz/corpus/bencode, grown by scripts/fuzz.sh) on every test run.
struct BencodeCorpusTests {
    static var corpus: String {
        packageRoot + "/Fuzz/corpus/bencode"
    }

    @Test func everyCorpusInputDecodesCanonicallyOrThrows() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus)
        #expect(files.count >= 5)
        var accepted = 0
        for file in files {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(Self.corpus)/\(file)")))
            do {
                let value = try BencodeDecoder.decode(bytes, limits: BencodeLimits(maxDepth: 32))
                #expect(BencodeEncoder.encode(value) == bytes, "\(file)")
                accepted += 1
            } catch is BencodeError {
                continue
            }
        }
        #expect(accepted >= 5)
    }
}
