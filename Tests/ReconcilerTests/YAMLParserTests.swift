import Reconciler
import Testing

/// The libyaml-backed tree: marks, anchors, merge keys, documents.
struct YAMLParserTests {
    func parse(_ text: String) -> ([YAMLDocument], [Diagnostic]) {
        let result = YAMLParser(file: "t.yaml").parse(Array(text.utf8))
        return (result.documents, result.diagnostics)
    }

    func pairs(_ node: YAMLNode?) -> [(String, YAMLNode)] {
        guard case .mapping(let pairs)? = node?.content else { return [] }
        return pairs.map { ($0.key.scalar ?? "?", $0.value) }
    }

    @Test func marksAreOneBased() throws {
        let (documents, diagnostics) = parse("a: 1\nb:\n  c: x\n")
        #expect(diagnostics.isEmpty)
        let b = try #require(pairs(documents.first?.root).first { $0.0 == "b" }?.1)
        let c = try #require(pairs(b).first?.1)
        #expect(c.line == 3 && c.column == 6)
        #expect(c.scalar == "x")
    }

    @Test func mergeKeysGiveWayToExplicitKeys() throws {
        let (documents, diagnostics) = parse("""
            base: &b {x: 1, y: 2}
            other: &o {y: 9, z: 3}
            m:
              <<: [*b, *o]
              x: 7
            """)
        #expect(diagnostics.isEmpty)
        let m = try #require(pairs(documents.first?.root).first { $0.0 == "m" }?.1)
        let values = Dictionary(uniqueKeysWithValues: pairs(m).map { ($0.0, $0.1.scalar ?? "") })
        #expect(values == ["x": "7", "y": "2", "z": "3"])
    }

    @Test func anchorsDoNotCrossDocuments() {
        let (documents, diagnostics) = parse("a: &x 1\n---\nb: *x\n")
        #expect(documents.count == 2)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.location == SourceLocation(file: "t.yaml", line: 3, column: 4))
    }

    @Test func duplicateKeysAreReportedOnce() {
        let (_, diagnostics) = parse("a: 1\nb: 2\na: 3\n")
        #expect(diagnostics.map(\.message) == ["duplicate key 'a'"])
        #expect(diagnostics.first?.related.first?.location.line == 1)
    }

    @Test func syntaxErrorIsLocated() {
        let (_, diagnostics) = parse("a: [1, 2\nb: 3\n")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message.hasPrefix("invalid YAML") == true)
    }

    @Test func scalarStylesAreKept() throws {
        let (documents, _) = parse("a: '1'\nb: 1\nc: |\n  text\n")
        let values = pairs(documents.first?.root)
        guard case .scalar(_, let quoted) = values[0].1.content, case .scalar(_, let plain) = values[1].1.content,
              case .scalar(let block, .block) = values[2].1.content else {
            Issue.record("unexpected shapes")
            return
        }
        #expect(quoted == .quoted && plain == .plain && block == "text\n")
    }
}
