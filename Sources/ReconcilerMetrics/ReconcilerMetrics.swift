import CoreMetrics

/// The reconciler's counters and timers, reported through swift-metrics.
///
/// The reconciler calls these; whatever backend the process bootstrapped receives them (the console bootstraps
/// Prometheus and serves them at `/metrics`). Without a bootstrapped backend they cost a no-op call. This target
/// depends on swift-metrics only, so the reconciler can use it without pulling in an HTTP server.
public enum ReconcilerMetrics {
    /// Metric names, as Prometheus shows them.
    public enum Name {
        public static let actions = "rackswarm_actions_total"
        public static let passDuration = "rackswarm_pass_duration_seconds"
        public static let seedBytes = "rackswarm_seed_bytes_total"
        public static let peerBytes = "rackswarm_peer_bytes_total"
        public static let lastSuccessfulPass = "rackswarm_last_successful_pass_timestamp_seconds"
        public static let rolloutHalted = "rackswarm_rollout_halted"
        public static let seedImages = "rackswarm_seed_images"
        public static let installRequestsRefused = "rackswarm_install_reports_refused_total"
    }

    /// One executed action ended: `kind` is the action kind (`powerCycle`, `installImage`, …).
    public static func actionFinished(kind: String, ok: Bool) {
        Counter(label: Name.actions, dimensions: [("kind", kind), ("result", ok ? "ok" : "failed")]).increment()
    }

    /// A request of an install environment (instructions or a report) was refused: `reason` is `missing` (no
    /// token), `wrong_token`, `no_install` (the node has no install under way: a stale token) or `unreadable`.
    public static func installRequestRefused(reason: String) {
        Counter(label: Name.installRequestsRefused, dimensions: [("reason", reason)]).increment()
    }

    /// One reconcile pass (fetch, load, observe, plan, execute) took `seconds`.
    public static func passFinished(seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        Timer(label: Name.passDuration).recordNanoseconds(Int64(seconds * 1_000_000_000))
    }

    /// The reconciler's seed sent `bytes` of image data to nodes.
    public static func seedBytes(_ bytes: Int64) {
        guard bytes > 0 else { return }
        Counter(label: Name.seedBytes).increment(by: bytes)
    }

    /// Nodes exchanged `bytes` of image data between themselves (bytes received from peers other than the seed).
    public static func peerBytes(_ bytes: Int64) {
        guard bytes > 0 else { return }
        Counter(label: Name.peerBytes).increment(by: bytes)
    }

    /// A pass's execution ended with no node stalled or failed, at `time` (seconds since 1970); `halted` says
    /// whether the last execution stopped its rollout because the failure budget was spent.
    public static func executionEnded(succeeded: Bool, halted: Bool, at time: Double) {
        if succeeded { Gauge(label: Name.lastSuccessfulPass).record(time) }
        Gauge(label: Name.rolloutHalted).record(halted ? 1 : 0)
    }

    /// The reconciler's seed serves `serving` images and refused `refused` (a missing file or a wrong digest).
    public static func seedImages(serving: Int, refused: Int) {
        Gauge(label: Name.seedImages, dimensions: [("state", "serving")]).record(Double(serving))
        Gauge(label: Name.seedImages, dimensions: [("state", "refused")]).record(Double(refused))
    }
}
