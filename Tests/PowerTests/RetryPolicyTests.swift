import Testing

@testable import Drivers

/// Backoff grows exponentially, is capped, is jittered, and only transient errors are retried.
struct RetryPolicyTests {
    @Test func delaysDoubleUpToTheCap() {
        let policy = RetryPolicy(retries: 10, base: .milliseconds(100), cap: .seconds(1))
        #expect(policy.delay(beforeRetry: 1, random: 1) == .milliseconds(100))
        #expect(policy.delay(beforeRetry: 2, random: 1) == .milliseconds(200))
        #expect(policy.delay(beforeRetry: 4, random: 1) == .milliseconds(800))
        #expect(policy.delay(beforeRetry: 5, random: 1) == .seconds(1))
        #expect(policy.delay(beforeRetry: 60, random: 1) == .seconds(1))
        #expect(policy.delay(beforeRetry: 3, random: 0.5) == .milliseconds(200))
        #expect(policy.delay(beforeRetry: 3, random: 0) == .zero)
    }

    @Test func retriesTransientErrorsThenSucceeds() async throws {
        let counter = Counter()
        let policy = RetryPolicy(retries: 3, base: .milliseconds(1), cap: .milliseconds(2))
        let value = try await policy.run { () throws(PowerError) -> Int in
            let attempt = await counter.next()
            if attempt < 3 { throw PowerError(.unreachable, bmc: "ipmi://x", "timeout") }
            return attempt
        }
        #expect(value == 3)
    }

    @Test func stalledAndWaitingErrorsAreNotRetried() async {
        for code in [PowerError.Code.authenticationFailed, .busy, .unsupported] {
            let counter = Counter()
            let policy = RetryPolicy(retries: 3, base: .milliseconds(1), cap: .milliseconds(2))
            await #expect(throws: PowerError.self) {
                try await policy.run { () throws(PowerError) in
                    _ = await counter.next()
                    throw PowerError(code, bmc: "ipmi://x", "no")
                }
            }
            #expect(await counter.value == 1, "\(code) must not be retried")
        }
    }

    @Test func givesUpAfterTheRetries() async {
        let counter = Counter()
        let policy = RetryPolicy(retries: 2, base: .milliseconds(1), cap: .milliseconds(2))
        await #expect(throws: PowerError.self) {
            try await policy.run { () throws(PowerError) in
                _ = await counter.next()
                throw PowerError(.unreachable, bmc: "ipmi://x", "timeout")
            }
        }
        #expect(await counter.value == 3)
    }
}

actor Counter {
    private(set) var value = 0

    func next() -> Int {
        value += 1
        return value
    }
}
