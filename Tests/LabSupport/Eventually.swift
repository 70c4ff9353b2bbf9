import Foundation

/// Polls `done` every `every` until it holds or `seconds` pass; answers whether it held.
///
/// For tests on a loaded machine: wait for the condition the test means (a process gone, a state reached), not for
/// a fixed sleep that the machine can outrun. `seconds` is only a liveness bound, so make it generous.
public func eventually(
    _ seconds: Double, every: Duration = .milliseconds(50), _ done: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
    while ContinuousClock.now < deadline {
        if try await done() { return true }
        try? await Task.sleep(for: every)
    }
    return try await done()
}

/// Waits until none of `pids` is a live process (each exited, or is a zombie), for up to `seconds`; answers whether
/// they all went. A process killed with SIGKILL is gone only once the kernel has run its exit, which a loaded
/// machine can delay.
public func processesExit(_ pids: [pid_t], within seconds: Double = 30) async -> Bool {
    await eventually(seconds) { !pids.contains(where: processIsAlive) }
}

/// Runs `body`, then `teardown` whether `body` returned or threw: the `defer` that an async teardown (a namespace
/// lab, a server's stop) cannot have.
public func withTeardown<T>(_ body: () async throws -> T, teardown: () async -> Void) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await teardown()
        throw error
    }
    await teardown()
    return result
}
