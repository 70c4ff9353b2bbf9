/// Gives a struct the `public init` that Swift synthesises only as `internal`: one parameter per stored property, in
/// order, with each `var`'s initial value as its default.
///
/// For value types that other modules build (the model, reports, configurations), instead of an init that repeats
/// every stored property by hand. A struct whose init does more than assign its properties keeps a written one.
@attached(member, names: named(init))
public macro PublicMemberwiseInit() = #externalMacro(module: "RackswarmMacros", type: "PublicMemberwiseInitMacro")
