import NIOConcurrencyHelpers

/// Runs `transform` over `items` with at most `limit` running at once; results keep the input order.
///
/// One reconciler drives many BMCs at once; the cap keeps sockets, memory and the BMC network in check. A call
/// whose peer has not answered within its slot's `patience` (the IPMI driver says so through `FanOutSlot.current`)
/// stops counting against `limit`, so silent BMCs wait out their retries side by side instead of holding back the
/// ones that answer; at most `limit × stalledFactor` calls are under way in all. The patience follows how fast the
/// peers answer (see `FanOutSlot.patience`): the start rate follows the answer rate.
/// With an `executor` (e.g. `PowerDriverResources.executor`), the work starts on it rather than hopping there.
public func boundedConcurrentMap<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, executor: (any TaskExecutor)? = nil,
    _ transform: @escaping @Sendable (Item) async -> Result
) async -> [Result] {
    guard !items.isEmpty else { return [] }
    let limit = max(1, limit)
    let gate = FanOutGate(active: limit, total: limit * FanOutSlot.stalledFactor)
    let results = NIOLockedValueBox([Result?](repeating: nil, count: items.count))
    // A discarding group frees each call's task as it ends: a long fan-out keeps no finished task alive.
    await withDiscardingTaskGroup { group in
        for index in items.indices {
            await gate.enter()
            let slot = FanOutSlot(gate: gate)
            group.addTask(executorPreference: executor) {
                let result = await FanOutSlot.$current.withValue(slot) { await transform(items[index]) }
                slot.finish()
                results.withLockedValue { $0[index] = result }
            }
        }
    }
    return results.withLockedValue { $0.compactMap { $0 } }
}

/// The place one call of `boundedConcurrentMap` holds; a driver waiting on a peer that stays silent gives it up.
public final class FanOutSlot: Sendable {
    /// The slot of the call running in this task, if it runs under `boundedConcurrentMap`.
    @TaskLocal public static var current: FanOutSlot?
    /// How many times the limit may be under way in all, counting the calls that stalled.
    public static let stalledFactor = 32

    private let gate: FanOutGate
    private let state = NIOLockedValueBox((stalled: false, finished: false))

    init(gate: FanOutGate) {
        self.gate = gate
    }

    /// How long a call may wait for an answer before it stops counting against the limit; nil before any answer.
    ///
    /// Three smoothed answer times, or the smoothed time plus four deviations if the answers vary more (the
    /// retransmit timer of TCP, RFC 6298, made more patient), at least 10 ms. Once the process reads answers later
    /// than the peers send them (its event loop or socket buffer queues them), every answer time grows with the
    /// queue, so calls wait longer before they give up their place and fewer new ones start: a silent peer frees
    /// its place in a few answer times on an idle machine, not in a whole request timeout.
    public var patience: Duration? { gate.patience }

    /// The peer answered one request `elapsed` after it was sent: one sample of the answer time.
    public func answered(after elapsed: Duration) {
        gate.sample(elapsed)
    }

    /// The call waited a whole timeout without an answer: it stops counting against the limit (once).
    public func stalled() {
        let leave = state.withLockedValue { state -> Bool in
            guard !state.stalled, !state.finished else { return false }
            state.stalled = true
            return true
        }
        if leave { gate.leave(active: true, total: false) }
    }

    func finish() {
        let wasActive = state.withLockedValue { state -> Bool? in
            guard !state.finished else { return nil }
            state.finished = true
            return !state.stalled
        }
        if let wasActive { gate.leave(active: wasActive, total: true) }
    }
}

/// Counts the calls under way (`total`) and those not stalled (`active`); one feeder waits for room in both.
final class FanOutGate: Sendable {
    private struct State {
        var active = 0
        var total = 0
        var waiter: CheckedContinuation<Void, Never>?
        /// Smoothed answer time and its mean deviation, in seconds; nil before the first answer.
        var smoothed: Double?
        var deviation = 0.0
    }

    private let activeLimit: Int
    private let totalLimit: Int
    private let state = NIOLockedValueBox(State())

    init(active: Int, total: Int) {
        activeLimit = active
        totalLimit = max(active, total)
    }

    var patience: Duration? {
        state.withLockedValue { state in
            guard let smoothed = state.smoothed else { return nil }
            return .seconds(max(3 * smoothed, smoothed + 4 * state.deviation, 0.010))
        }
    }

    /// Folds one answer time into the smoothed time and deviation (gains 1/8 and 1/4, as RFC 6298).
    func sample(_ elapsed: Duration) {
        let (seconds, attoseconds) = elapsed.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        state.withLockedValue { state in
            guard let smoothed = state.smoothed else {
                state.smoothed = value
                state.deviation = value / 2
                return
            }
            state.deviation = 0.75 * state.deviation + 0.25 * abs(smoothed - value)
            state.smoothed = 0.875 * smoothed + 0.125 * value
        }
    }

    /// Waits until one more call may start, and counts it.
    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLockedValue { state -> Bool in
                guard state.active < activeLimit, state.total < totalLimit else {
                    state.waiter = continuation
                    return false
                }
                state.active += 1
                state.total += 1
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    func leave(active: Bool, total: Bool) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if active { state.active -= 1 }
            if total { state.total -= 1 }
            guard let waiter = state.waiter, state.active < activeLimit, state.total < totalLimit else { return nil }
            state.waiter = nil
            state.active += 1
            state.total += 1
            return waiter
        }
        waiter?.resume()
    }
}
