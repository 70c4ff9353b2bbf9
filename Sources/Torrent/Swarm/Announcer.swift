import NIOCore

/// When to announce to the tracker, and with which event: one announce at a time, `completed` exactly once.
///
/// Pure: the caller passes the clock, sends the announce `begin` allows, and reports its outcome to `finished`.
struct Announcer {
    /// When the next regular announce is due (nil while one is in flight or before the first answer).
    private(set) var nextAt: NIODeadline?
    private(set) var inFlight = false
    private var completedSent: Bool
    /// A `completed` that came while another announce was in flight; it goes out right after.
    private var completedPending = false
    /// Seconds to wait at least between regular announces, whatever the tracker says.
    let minimumInterval: Int64
    /// Seconds to wait after a failed announce.
    let retryInterval: Int64
    /// The longest interval taken from a tracker (a hostile `interval` must not overflow the clock).
    static let maximumInterval: Int64 = 86_400

    /// `complete`: the download was complete at start, so `completed` is never sent.
    init(complete: Bool, minimumInterval: Int64 = 10, retryInterval: Int64 = 15) {
        completedSent = complete
        self.minimumInterval = minimumInterval
        self.retryInterval = retryInterval
    }

    /// Whether to send an announce with `event` now. A `stopped` always goes; `completed` goes once.
    mutating func begin(_ event: AnnounceRequest.Event?) -> Bool {
        if event == .completed {
            guard !completedSent else { return false }
            completedSent = true
        }
        guard !inFlight || event == .stopped else {
            if event == .completed { completedPending = true }
            return false
        }
        inFlight = true
        nextAt = nil
        return true
    }

    /// Whether a regular announce is due.
    func isDue(now: NIODeadline) -> Bool { nextAt.map { now >= $0 } ?? false }

    /// The announce ended; `interval` is the tracker's answer (nil: it failed). Returns whether a deferred
    /// `completed` must go out now (the caller then calls `begin(.completed)`).
    mutating func finished(interval: Int?, now: NIODeadline) -> Bool {
        inFlight = false
        let seconds = interval.map { min(Self.maximumInterval, max(minimumInterval, Int64($0))) } ?? retryInterval
        nextAt = now + .seconds(seconds)
        guard completedPending else { return false }
        completedPending = false
        completedSent = false
        return true
    }
}
