import Synchronization

/// The executor's concurrency slots for one wave: a node holds one while its performer works, and gives it back
/// while a step waits to be looked at again (`requeue(after:)`) or to be retried, so other nodes go on meanwhile.
///
/// Nodes start in plan order; a node coming back from a wait goes before a node that has not started. Once the
/// rollout halts, nodes that have not started never get a slot; nodes in flight still do. `close()` (the wave is
/// abandoned on an error) lets every waiter go without one.
final class ExecutorSlots: Sendable {
    private struct State {
        var free: Int
        /// Nodes not started yet, in plan order.
        var order: [String]
        var starting: [String: CheckedContinuation<Bool, Never>] = [:]
        var resuming: [CheckedContinuation<Bool, Never>] = []
        var halted = false
        var closed = false

        /// Hands out what can be handed out now: the continuations to resume, with whether each got a slot.
        mutating func dispatch() -> [(CheckedContinuation<Bool, Never>, Bool)] {
            var ready: [(CheckedContinuation<Bool, Never>, Bool)] = []
            if closed {
                ready += resuming.map { ($0, false) }
                resuming = []
            }
            if closed || halted {
                ready += starting.values.map { ($0, false) }
                starting = [:]
                order = []
            }
            while free > 0 {
                if !resuming.isEmpty {
                    ready.append((resuming.removeFirst(), true))
                } else if let head = order.first, let waiter = starting.removeValue(forKey: head) {
                    order.removeFirst()
                    ready.append((waiter, true))
                } else {
                    break
                }
                free -= 1
            }
            return ready
        }
    }

    private let state: Mutex<State>

    /// `count` slots for the nodes of one wave, which start in the order given.
    init(_ count: Int, order: [String]) {
        state = Mutex(State(free: max(1, count), order: order))
    }

    /// Waits for `node`'s turn and a free slot; false (and no slot) once the rollout halted or the wave closed.
    func start(_ node: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                state.starting[node] = continuation
                return state.dispatch()
            }
            for (waiter, granted) in ready { waiter.resume(returning: granted) }
        }
    }

    /// Takes a slot back after a wait, ahead of nodes not started yet; throws `CancellationError` once the wave
    /// closed. It waits even when the task is cancelled, so the caller always ends holding a slot or throwing.
    func resume() async throws {
        let granted = await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                state.resuming.append(continuation)
                return state.dispatch()
            }
            for (waiter, granted) in ready { waiter.resume(returning: granted) }
        }
        guard granted else { throw CancellationError() }
    }

    /// Gives a slot back.
    func release() {
        update { $0.free += 1 }
    }

    /// No node that has not started gets a slot any more.
    func halt() {
        update { $0.halted = true }
    }

    /// Lets every waiter go without a slot: the wave is abandoned.
    func close() {
        update { $0.closed = true }
    }

    /// Runs `wait` without holding a slot, then takes one back (even if `wait` threw, before rethrowing).
    func released(during wait: () async throws -> Void) async throws {
        release()
        do {
            try await wait()
        } catch {
            try await resume()
            throw error
        }
        try await resume()
    }

    private func update(_ change: (inout State) -> Void) {
        let ready = state.withLock { state in
            change(&state)
            return state.dispatch()
        }
        for (waiter, granted) in ready { waiter.resume(returning: granted) }
    }
}
