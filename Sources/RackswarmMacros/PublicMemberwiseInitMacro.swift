import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// Writes the `public init` Swift would synthesise for a struct if it ever made a memberwise init public.
///
/// One parameter per stored instance property, in declaration order, labelled with the property's name. A `var`'s
/// initial value becomes the parameter's default, and an optional `var` without one defaults to `nil`, as in the
/// synthesised init; a `let` with an initial value is not a parameter. Computed, `static` and `lazy` properties are
/// skipped; a function-typed property's parameter is `@escaping`.
public struct PublicMemberwiseInitMacro: MemberMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingMembersOf declaration: some DeclGroupSyntax,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard declaration.is(StructDeclSyntax.self) else {
            throw failure("@PublicMemberwiseInit applies to a struct", at: Syntax(node))
        }
        var parameters: [String] = []
        var assignments: [String] = []
        for member in declaration.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self), isInstanceStored(variable) else { continue }
            let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
            for binding in variable.bindings where !isComputed(binding) {
                guard let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.trimmedDescription else {
                    throw failure("@PublicMemberwiseInit needs one name per stored property",
                                     at: Syntax(binding.pattern))
                }
                if isLet && binding.initializer != nil { continue }
                guard let type = binding.typeAnnotation?.type else {
                    throw failure("@PublicMemberwiseInit needs the type of '\(name)' written out",
                                     at: Syntax(binding.pattern))
                }
                var parameter = "\(name): \(isFunction(type) ? "@escaping " : "")\(type.trimmedDescription)"
                if let initializer = binding.initializer {
                    parameter += " = \(initializer.value.trimmedDescription)"
                } else if !isLet && (type.is(OptionalTypeSyntax.self)
                    || type.is(ImplicitlyUnwrappedOptionalTypeSyntax.self)) {
                    parameter += " = nil"
                }
                parameters.append(parameter)
                assignments.append("self.\(name) = \(name)")
            }
        }
        let body = assignments.map { "    \($0)\n" }.joined()
        return ["public init(\(raw: parameters.joined(separator: ", "))) {\n\(raw: body)}"]
    }

    /// Whether a declaration is an instance property a memberwise init sets (not `static`, `class` or `lazy`).
    private static func isInstanceStored(_ variable: VariableDeclSyntax) -> Bool {
        !variable.modifiers.contains { modifier in
            [.keyword(.static), .keyword(.class), .keyword(.lazy)].contains(modifier.name.tokenKind)
        }
    }

    /// Whether a binding is computed: a getter, or accessors other than `willSet`/`didSet`.
    private static func isComputed(_ binding: PatternBindingSyntax) -> Bool {
        switch binding.accessorBlock?.accessors {
        case nil: false
        case .getter: true
        case .accessors(let accessors):
            accessors.contains { ![.keyword(.willSet), .keyword(.didSet)].contains($0.accessorSpecifier.tokenKind) }
        }
    }

    /// Whether a type is a function type (maybe with attributes such as `@Sendable`), which must be `@escaping`.
    private static func isFunction(_ type: TypeSyntax) -> Bool {
        if let attributed = type.as(AttributedTypeSyntax.self) { return isFunction(attributed.baseType) }
        return type.is(FunctionTypeSyntax.self)
    }
}

/// A located error on the declaration the macro was given, as the compiler shows it.
func failure(_ message: String, at node: Syntax) -> DiagnosticsError {
    DiagnosticsError(diagnostics: [Diagnostic(node: node, message: MacroMessage(message: message))])
}

/// The text of a macro's error.
struct MacroMessage: DiagnosticMessage {
    let message: String
    var diagnosticID: MessageID { MessageID(domain: "RackswarmMacros", id: "error") }
    var severity: DiagnosticSeverity { .error }
}
