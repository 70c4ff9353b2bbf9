import NIOCore

/// The peers to keep dialling and when each may be dialled again: 250 ms doubling to 30 s, plus up to 20% jitter,
/// reset once the peer sends data.
///
/// Pure: the caller passes the clock and the randomness, and does the dialling.
struct DialBackoff {
    /// Targets (`host:port`) to keep dialling while pieces are missing.
    private(set) var targets: Set<String> = []
    private var redial: [String: (at: NIODeadline, backoff: Int64)] = [:]
    let initialMilliseconds: Int64 = 250
    let maximumMilliseconds: Int64 = 30_000

    mutating func add(_ target: String) { targets.insert(target) }

    /// Stops dialling `target` (a seed when we are one too, or a banned address).
    mutating func remove(_ target: String) {
        targets.remove(target)
        redial[target] = nil
    }

    /// A dial failed or the connection ended: waits longer before the next one.
    mutating func failed(_ target: String, now: NIODeadline, using generator: inout some RandomNumberGenerator) {
        let backoff = min(maximumMilliseconds, (redial[target]?.backoff ?? 0) * 2 + initialMilliseconds)
        let jitter = Int64.random(in: 0...(backoff / 5), using: &generator)
        redial[target] = (now + .milliseconds(backoff + jitter), backoff)
    }

    /// The peer sent data: the next failure starts the backoff over.
    mutating func succeeded(_ target: String) { redial[target] = nil }

    /// When `target` may be dialled again (nil: now).
    func nextDial(_ target: String) -> NIODeadline? { redial[target]?.at }

    /// Targets whose backoff has passed.
    func due(now: NIODeadline) -> [String] {
        targets.filter { (redial[$0]?.at ?? now) <= now }.sorted()
    }
}
