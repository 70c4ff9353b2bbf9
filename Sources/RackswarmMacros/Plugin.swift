import SwiftCompilerPlugin
import SwiftSyntaxMacros

/// The compiler plugin holding rackswarm's macros (declared in RackswarmCore).
@main
struct RackswarmMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [PublicMemberwiseInitMacro.self]
}
