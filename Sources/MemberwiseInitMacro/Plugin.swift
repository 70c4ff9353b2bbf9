import SwiftCompilerPlugin
import SwiftSyntaxMacros

/// The compiler plugin the `MemberwiseInit` library's macro declarations name.
@main
struct MemberwiseInitPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [PublicMemberwiseInitMacro.self]
}
