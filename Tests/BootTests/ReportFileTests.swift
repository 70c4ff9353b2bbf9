import BootServer
import Foundation
import LabSupport
import RackswarmCore
import Testing

/// The `boot serve --reports` file rotates by size: FILE.1 is the newest rotated file, at most `keep` are kept,
/// and no line is split or lost across a rotation.
struct ReportFileTests {
    @Test func rotatesBySizeAndKeepsTheNewest() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/reports.jsonl"
        let file = try ReportFile(path: path, maxSize: 1000, keep: 2)
        for index in 0..<40 {
            try await file.append(node: "r1n\(index)", report: InstallReport(phase: .downloading, image: "tiny@1",
                                                                             percent: Double(index)))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["reports.jsonl", "reports.jsonl.1", "reports.jsonl.2"])
        var nodes: [String] = []
        for name in ["reports.jsonl.2", "reports.jsonl.1", "reports.jsonl"] {
            let text = try directory.read(name)
            #expect(text.utf8.count <= 1000)
            #expect(text.hasSuffix("\n"))
            for line in text.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                nodes.append(try #require(object?["node"] as? String))
            }
        }
        // The newest lines, in order, with none missing between the files.
        let last = try #require(nodes.last)
        #expect(last == "r1n39")
        let oldest = try #require(nodes.first)
        let first = try #require(Int(oldest.dropFirst(3)))
        #expect(nodes == (first..<40).map { "r1n\($0)" })
        #expect(first > 0)
    }

    @Test func reopensAnExistingFileAtItsEnd() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/reports.jsonl"
        try directory.write("reports.jsonl", Data(String(repeating: "x", count: 900).utf8 + [10]))
        let file = try ReportFile(path: path, maxSize: 1000, keep: 1)
        try await file.append(node: "r1n1", report: InstallReport(phase: .written, image: "tiny@1"))
        // 901 bytes there: the new line did not fit, so the old file went to .1 whole.
        #expect(try directory.read("reports.jsonl.1").utf8.count == 901)
        #expect(try directory.read("reports.jsonl").contains("\"node\":\"r1n1\""))
    }
}
