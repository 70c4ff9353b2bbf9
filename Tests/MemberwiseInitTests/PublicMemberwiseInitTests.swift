import MemberwiseInit
import Testing

/// Fixtures the compiler expands `@PublicMemberwiseInit` on, as every user of the macro does: the initialisers must
/// compile with these calls and store what they are given, with Swift's defaults where a call leaves one out.
@PublicMemberwiseInit
public struct Fixture: Equatable {
    public var name: String
    public let id: Int
    /// Not a parameter: a `let` with a value cannot be set again.
    public let kind = "fixture"
    public var note: String?
    public var retries: Int = 3
    public var low, high: Double
    public var doubled: Int { id * 2 }
    public static let shared = 7
}

@PublicMemberwiseInit
public struct Callbacks {
    public var onChange: @Sendable (Int) -> Int
    public var onDone: (@Sendable () -> Void)?
    public let label: String?
}

struct PublicMemberwiseInitTests {
    @Test func storesEveryArgument() {
        let fixture = Fixture(name: "a", id: 2, note: "n", retries: 5, low: 1, high: 2)
        #expect(fixture.name == "a")
        #expect(fixture.id == 2)
        #expect(fixture.note == "n")
        #expect(fixture.retries == 5)
        #expect(fixture.low == 1)
        #expect(fixture.high == 2)
        #expect(fixture.kind == "fixture")
        #expect(fixture.doubled == 4)
    }

    @Test func leftOutArgumentsTakeSwiftsDefaults() {
        let fixture = Fixture(name: "b", id: 1, low: 0, high: 0)
        #expect(fixture.note == nil)
        #expect(fixture.retries == 3)
        #expect(fixture == Fixture(name: "b", id: 1, note: nil, retries: 3, low: 0, high: 0))
    }

    @Test func closuresEscapeIntoTheValue() {
        let step = 3
        let callbacks = Callbacks(onChange: { $0 + step }, label: nil)
        #expect(callbacks.onChange(1) == 4)
        #expect(callbacks.onDone == nil)
        #expect(callbacks.label == nil)
    }
}
