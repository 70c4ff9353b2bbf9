import Foundation
import LabSupport
import Reconciler
import Testing

/// A huge source line costs one screen line of excerpt, with the caret under the right character.
struct DiagnosticExcerptTests {
    /// The character the caret points at in a rendered excerpt (the caret line's `^` column in the line above).
    static func pointed(_ rendered: String) -> Character? {
        let lines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, let caret = lines[2].firstIndex(of: "^") else { return nil }
        let offset = lines[2].distance(from: lines[2].startIndex, to: caret)
        return Array(lines[1]).count > offset ? Array(lines[1])[offset] : nil
    }

    @Test(arguments: [1, 5, 60, 61, 62, 1_000, 25_000_000, 50_000_000])
    func hugeLineIsCutAroundTheColumn(column: Int) async {
        // Seconds of computing on a loaded machine: on a thread of its own, not one of the pool's (see onOwnThread).
        await onOwnThread {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 50_000_000)
            bytes[column - 1] = UInt8(ascii: "X")
            let source = "first: line\n" + String(decoding: bytes, as: UTF8.self) + "\n"
            let diagnostic = Diagnostic.error(at: SourceLocation(file: "big.yaml", line: 2, column: column), "bad here")
            let rendered = DiagnosticRenderer(sources: ["big.yaml": source]).render(diagnostic)
            #expect(rendered.utf8.count < 400, "\(rendered.prefix(500))")
            #expect(Self.pointed(rendered) == "X", "\(rendered)")
        }
    }

    @Test func tabsKeepTheCaretAligned() {
        let source = "\t\tkey: value\n"
        let diagnostic = Diagnostic.error(at: SourceLocation(file: "t.yaml", line: 1, column: 8), "bad")
        let rendered = DiagnosticRenderer(sources: ["t.yaml": source]).render(diagnostic)
        #expect(rendered == "t.yaml:1:8: error: bad\n\t\tkey: value\n\t\t     ^\n")
    }

    @Test func hugeMessageIsCut() {
        let diagnostic = Diagnostic.error(at: SourceLocation(file: "m.yaml", line: 1, column: 1),
                                          "unknown field '\(String(repeating: "k", count: 10_000_000))'")
        let rendered = DiagnosticRenderer(sources: [:]).render(diagnostic)
        #expect(rendered.utf8.count < 1200)
        #expect(rendered.contains("(10000016 bytes)"))
    }

    /// Through the real binary: a site file with a 10 MB line and an error on it.
    @Test func validatePrintsAShortExcerpt() async throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("base"))
        let long = String(repeating: "x", count: 10_000_000)
        let text = "apiVersion: rackswarm.io/v1\nkind: Rack\nmetadata: {name: r9, labels: {a: \"\(long)\"}, oops: 1}\n"
        try text.write(to: site.directory.appendingPathComponent("long.yaml"), atomically: true, encoding: .utf8)
        let (status, _, stderr) = try await runProcess(ValidateCommandTests.binary, ["validate", site.directory.path])
        #expect(status == 1)
        #expect(stderr.utf8.count < 4000, "\(stderr.prefix(2000))")
        #expect(stderr.contains("long.yaml:3:"))
    }
}
