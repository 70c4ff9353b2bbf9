/// Adds a `public init` to a struct that takes its stored properties, in declaration order, as Swift's own
/// memberwise initialiser would: the compiler writes that one `internal`, so a public struct used from another module
/// needs one by hand, and those hand-written copies were most of the repetition in `Sources/`.
///
/// The rules are Swift's memberwise ones:
/// - a `var` with an initial value becomes a parameter with that value as its default;
/// - a `var` of optional type without one defaults to `nil`;
/// - a `let` with an initial value is not a parameter (it cannot be set twice);
/// - computed, `static` and `lazy` properties are left out; a function-typed parameter is `@escaping`.
///
/// A stored property without a written type, or with a property wrapper, is a located error at the attribute:
/// write that initialiser by hand. A struct whose initialiser does more than assign (sorts, checks) keeps its own.
@attached(member, names: named(init))
public macro PublicMemberwiseInit() = #externalMacro(module: "MemberwiseInitMacro", type: "PublicMemberwiseInitMacro")
