/// The one source of randomness a session hands to its parts: seeded, so a test or a simulator can replay a run.
///
/// xoshiro256** over a SplitMix-expanded seed. Not for secrets (peer ids only need to differ between clients).
struct SwarmRandom: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose whole sequence follows from `seed`.
    public init(seed: UInt64) {
        var mix = seed
        func expand() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            let spread = (mix ^ (mix >> 30)) &* 0xBF58_476D_1CE4_E5B9
            let folded = (spread ^ (spread >> 27)) &* 0x94D0_49BB_1331_11EB
            return folded ^ (folded >> 31)
        }
        state = (expand(), expand(), expand(), expand())
    }

    /// A generator seeded from the system's entropy.
    public static func fromSystem() -> SwarmRandom {
        var system = SystemRandomNumberGenerator()
        return SwarmRandom(seed: system.next())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 { (value << count) | (value >> (64 - count)) }
}

/// A connection's key in the swarm's parts: handed out by the session in connection order, never reused.
///
/// A value (not the connection object) so that the parts can be driven without sockets, e.g. by a simulator.
struct PeerKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public static func < (lhs: PeerKey, rhs: PeerKey) -> Bool { lhs.value < rhs.value }

    public var description: String { "peer#\(value)" }
}
