import Drivers
import Foundation
import Testing

@testable import BootServer

/// Every input libFuzzer kept for the Range header and the install report body (Fuzz/corpus, grown by
/// scripts/fuzz.sh), replayed through the real parsers on every test run.
struct BootParserCorpusTests {
    static func corpus(_ name: String) throws -> [[UInt8]] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(name)")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            Array(try Data(contentsOf: directory.appendingPathComponent($0)))
        }
    }

    @Test func rangeHeaders() throws {
        let inputs = try Self.corpus("range")
        #expect(inputs.count >= 10)
        for bytes in inputs where bytes.count >= 8 {
            let fileSize = Int(truncatingIfNeeded: bytes[..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) & Int.max
            let header = String(decoding: bytes[8...], as: UTF8.self)
            for size in [fileSize, 0, 1, 1000, Int.max] {
                if case .partial(let range) = ByteRange.parse(header, size: size) {
                    #expect(range.lowerBound >= 0 && range.upperBound < size)
                }
            }
        }
    }

    @Test func installReports() throws {
        let inputs = try Self.corpus("install-report")
        #expect(inputs.count >= 3)
        var accepted = 0
        for bytes in inputs {
            if case .success(let report) = ReportBody.decode(bytes) {
                #expect((0...100).contains(report.percent) && report.downloaded >= 0)
                accepted += 1
            }
        }
        #expect(accepted >= 2)
    }
}
