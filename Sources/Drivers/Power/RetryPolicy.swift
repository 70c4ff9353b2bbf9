import MemberwiseInit

/// Exponential backoff with full jitter and a cap (metal3 `calculateBackoff`), for transient failures.
@PublicMemberwiseInit
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt.
    public var retries: Int = 3
    /// The delay before the first retry, before jitter.
    public var base: Duration = .milliseconds(200)
    /// The longest delay between two attempts.
    public var cap: Duration = .seconds(10)

    /// The delay before retry number `attempt` (1-based): a random point in [0, min(cap, base·2^(attempt−1))].
    public func delay(beforeRetry attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(cap, base * (1 << exponent))
        return ceiling * max(0, min(1, random))
    }

    /// Runs `body`, retrying it while it throws a transient `PowerError`; other errors end at once.
    public func run<T: Sendable>(_ body: () async throws(PowerError) -> T) async throws(PowerError) -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch {
                attempt += 1
                guard error.intent == .transient, attempt <= retries, !Task.isCancelled else { throw error }
                try? await Task.sleep(for: delay(beforeRetry: attempt))
            }
        }
    }
}
