import MemberwiseInitMacro
import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacrosGenericTestSupport
import Testing

/// What `@PublicMemberwiseInit` writes, as text, and the errors it gives where it cannot write an init.
struct PublicMemberwiseInitExpansionTests {
    let macros = ["PublicMemberwiseInit": MacroSpec(type: PublicMemberwiseInitMacro.self)]

    /// Expands the macro on `public struct S` with `members` (one a line) and expects the members unchanged with
    /// `generated` (one a line) after them, or, with `diagnostics`, nothing added.
    func expect(_ members: [String], generates generated: [String], diagnostics: [DiagnosticSpec] = [],
                sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let body = members.map { "    " + $0 }.joined(separator: "\n")
        let added = generated.isEmpty ? "" : "\n\n" + generated.map { "    " + $0 }.joined(separator: "\n")
        assertMacroExpansion(
            "@PublicMemberwiseInit\npublic struct S {\n\(body)\n}",
            expandedSource: "public struct S {\n\(body)\(added)\n}",
            diagnostics: diagnostics, macroSpecs: macros
        ) {
            Issue.record(Comment(rawValue: $0.message), sourceLocation: sourceLocation)
        }
    }

    @Test func storedPropertiesInOrderWithSwiftsDefaults() {
        expect(
            [
                "public static var shared = 0",
                "public var name: String",
                "public let id: Int",
                "public var computed: Int { id * 2 }",
                "public let kind = \"entry\"",
                "public var note: String?",
                "public var retries: Int = 3",
                "public var a, b: Double",
                "public var onChange: @Sendable (Int) -> Void",
                "public var observed: Int { didSet { print(observed) } }",
            ],
            generates: [
                "public init(name: String, id: Int, note: String? = nil, retries: Int = 3, a: Double, b: Double, "
                    + "onChange: @escaping @Sendable (Int) -> Void, observed: Int) {",
                "    self.name = name",
                "    self.id = id",
                "    self.note = note",
                "    self.retries = retries",
                "    self.a = a",
                "    self.b = b",
                "    self.onChange = onChange",
                "    self.observed = observed",
                "}",
            ]
        )
    }

    @Test func anOptionalLetHasNoDefaultAndAnOptionalClosureIsNotEscaping() {
        expect(
            ["public let error: String?", "public var closure: (() -> Void)?"],
            generates: [
                "public init(error: String?, closure: (() -> Void)? = nil) {",
                "    self.error = error",
                "    self.closure = closure",
                "}",
            ]
        )
    }

    @Test func anEnumIsAnError() {
        assertMacroExpansion(
            "@PublicMemberwiseInit\npublic enum Kind {\n    case a\n}",
            expandedSource: "public enum Kind {\n    case a\n}",
            diagnostics: [DiagnosticSpec(message: "@PublicMemberwiseInit applies to a struct only", line: 1, column: 1)],
            macroSpecs: macros
        ) {
            Issue.record(Comment(rawValue: $0.message))
        }
    }

    @Test func everyPropertyItCannotTakeIsOneLocatedError() {
        expect(
            [
                "public var inferred = 3",
                "public lazy var later: Int = 4",
                "@Wrapped public var wrapped: Int",
                "public var (x, y): (Int, Int)",
            ],
            generates: [],
            diagnostics: [
                DiagnosticSpec(message: "'inferred' needs a written type for @PublicMemberwiseInit", line: 3, column: 16),
                DiagnosticSpec(
                    message: "@PublicMemberwiseInit does not take lazy properties; write this init by hand",
                    line: 4, column: 5),
                DiagnosticSpec(
                    message: "@PublicMemberwiseInit does not take attributed (wrapped) properties", line: 5, column: 5),
                DiagnosticSpec(
                    message: "@PublicMemberwiseInit takes one name per binding, not a pattern", line: 6, column: 16),
            ]
        )
    }
}
