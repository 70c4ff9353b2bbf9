import Foundation
import Testing

@testable import Torrent

/// Every input libFuzzer kept for the announce query and the metainfo (Fuzz/corpus, grown by scripts/fuzz.sh),
/// replayed through the real parsers on every test run: none may trap, and the properties the harnesses check
/// still hold.
struct ParserCorpusTests {
    static func corpus(_ name: String) throws -> [[UInt8]] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(name)")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            Array(try Data(contentsOf: directory.appendingPathComponent($0)))
        }
    }

    @Test func announceQueries() throws {
        let inputs = try Self.corpus("announce")
        #expect(inputs.count >= 10)
        var accepted = 0
        for bytes in inputs {
            if let request = AnnounceRequest(query: String(decoding: bytes, as: UTF8.self)) {
                #expect((0...65535).contains(request.port))
                accepted += 1
            }
            _ = try? AnnounceResponse(bencoded: bytes)
        }
        #expect(accepted >= 1)
    }

    @Test func metainfo() throws {
        let inputs = try Self.corpus("metainfo")
        #expect(inputs.count >= 10)
        for bytes in inputs {
            guard let metainfo = try? Metainfo(bytes: bytes) else { continue }
            #expect(metainfo.pieceLength > 0)
            if metainfo.pieceCount <= 4096 {
                let total = (0..<metainfo.pieceCount).reduce(Int64(0)) { $0 + Int64(metainfo.size(ofPiece: $1)) }
                #expect(total == metainfo.length)
            }
        }
    }
}
