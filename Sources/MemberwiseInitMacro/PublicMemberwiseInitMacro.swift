import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// `@PublicMemberwiseInit`: a `public init` over a struct's stored properties, by Swift's memberwise rules (the
/// declaration in the `MemberwiseInit` library lists them).
public struct PublicMemberwiseInitMacro: MemberMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingMembersOf declaration: some DeclGroupSyntax,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard declaration.is(StructDeclSyntax.self) else {
            throw DiagnosticsError(diagnostics: [
                Diagnostic(node: node, message: MemberwiseInitMessage("@PublicMemberwiseInit applies to a struct only"))
            ])
        }
        let parameters = try storedProperties(of: declaration.memberBlock)
        let list = parameters.map(\.declaration).joined(separator: ", ")
        let body = parameters.map { "self.\($0.name) = \($0.name)" }.joined(separator: "\n")
        return ["public init(\(raw: list)) {\n\(raw: body)\n}"]
    }

    /// One parameter of the initialiser: the property's name, and `name: Type = default` as written in the list.
    struct Parameter {
        var name: String
        var declaration: String
    }

    /// The parameters for the stored properties in `members`, in declaration order; every property the macro cannot
    /// take is one diagnostic at that property, all of them thrown together.
    static func storedProperties(of members: MemberBlockSyntax) throws -> [Parameter] {
        var parameters: [Parameter] = []
        var problems: [Diagnostic] = []
        func problem(_ node: some SyntaxProtocol, _ text: String) {
            problems.append(Diagnostic(node: node, message: MemberwiseInitMessage(text)))
        }
        for member in members.members {
            if member.decl.is(IfConfigDeclSyntax.self) {
                problem(member.decl, "@PublicMemberwiseInit cannot see properties under #if; write this init by hand")
                continue
            }
            guard let variable = member.decl.as(VariableDeclSyntax.self),
                !variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) }),
                variable.bindings.contains(where: { isStored($0) })
            else { continue }
            if variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.lazy) }) {
                problem(variable, "@PublicMemberwiseInit does not take lazy properties; write this init by hand")
                continue
            }
            if !variable.attributes.isEmpty {
                problem(variable.attributes, "@PublicMemberwiseInit does not take attributed (wrapped) properties")
                continue
            }
            let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
            // `var a, b: Int`: a binding with neither a type nor a value has the type of the next one.
            var nextType: TypeSyntax?
            var found: [Parameter] = []
            for binding in variable.bindings.reversed() {
                let type = binding.typeAnnotation?.type ?? (binding.initializer == nil ? nextType : nil)
                nextType = type
                guard isStored(binding), !(isLet && binding.initializer != nil) else { continue }
                guard let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text else {
                    problem(binding.pattern, "@PublicMemberwiseInit takes one name per binding, not a pattern")
                    continue
                }
                guard let type else {
                    problem(binding.pattern, "'\(name)' needs a written type for @PublicMemberwiseInit")
                    continue
                }
                var declaration = "\(name): \(needsEscaping(type) ? "@escaping " : "")\(type.trimmedDescription)"
                if let value = binding.initializer?.value {
                    declaration += " = \(value.trimmedDescription)"
                } else if !isLet, isOptional(type) {
                    declaration += " = nil"
                }
                found.append(Parameter(name: name, declaration: declaration))
            }
            parameters += found.reversed()
        }
        guard problems.isEmpty else { throw DiagnosticsError(diagnostics: problems) }
        return parameters
    }

    /// Whether a binding stores a value: no accessors, or only `willSet`/`didSet` observers.
    static func isStored(_ binding: PatternBindingSyntax) -> Bool {
        switch binding.accessorBlock?.accessors {
        case nil:
            return true
        case .getter:
            return false
        case .accessors(let accessors):
            return accessors.allSatisfy {
                [.keyword(.willSet), .keyword(.didSet)].contains($0.accessorSpecifier.tokenKind)
            }
        }
    }

    /// Whether a parameter of this type must be `@escaping`: a function type, maybe attributed or parenthesised.
    static func needsEscaping(_ type: TypeSyntax) -> Bool {
        if type.is(FunctionTypeSyntax.self) { return true }
        if let attributed = type.as(AttributedTypeSyntax.self) { return needsEscaping(attributed.baseType) }
        if let tuple = type.as(TupleTypeSyntax.self), tuple.elements.count == 1, let only = tuple.elements.first,
            only.firstName == nil
        {
            return needsEscaping(only.type)
        }
        return false
    }

    /// Whether the type is written as an optional (`T?`, `T!`, `Optional<T>`): Swift defaults such a `var` to nil.
    static func isOptional(_ type: TypeSyntax) -> Bool {
        if type.is(OptionalTypeSyntax.self) || type.is(ImplicitlyUnwrappedOptionalTypeSyntax.self) { return true }
        if let named = type.as(IdentifierTypeSyntax.self) {
            return named.name.text == "Optional" && named.genericArgumentClause != nil
        }
        if let member = type.as(MemberTypeSyntax.self) {
            return member.baseType.trimmedDescription == "Swift" && member.name.text == "Optional"
        }
        return false
    }
}

/// An error the macro reports at the syntax it concerns.
struct MemberwiseInitMessage: DiagnosticMessage {
    let message: String
    var diagnosticID: MessageID { MessageID(domain: "MemberwiseInit", id: "unsupported") }
    var severity: DiagnosticSeverity { .error }

    init(_ message: String) {
        self.message = message
    }
}
