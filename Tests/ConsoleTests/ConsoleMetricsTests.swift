import Console
import Foundation
import Hummingbird
import HummingbirdTesting
import Reconciler
import ReconcilerMetrics
import Testing

/// `/metrics` in Prometheus text format: node gauges from the store at scrape time, and the counters and timer the
/// reconciler reports through swift-metrics.
struct ConsoleMetricsTests {
    /// The value of one sample line (`name{labels} value`), nil when absent.
    static func value(_ sample: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }

    @Test func scrapeShowsNodesPerPhaseAndTheReconcilerCounters() async throws {
        let harness = try await ConsoleHarness.make()
        let metrics = ConsoleMetrics.shared
        let (before, after) = try await harness.withClient(metrics: metrics) { client in
            let before = try await client.fetch("/metrics")
            // Kinds no other test reports: the counters are process-wide, and executor tests run alongside.
            ReconcilerMetrics.actionFinished(kind: "consoleTestCycle", ok: true)
            ReconcilerMetrics.actionFinished(kind: "consoleTestCycle", ok: true)
            ReconcilerMetrics.actionFinished(kind: "consoleTestInstall", ok: false)
            ReconcilerMetrics.passFinished(seconds: 42)
            ReconcilerMetrics.seedBytes(1000)
            ReconcilerMetrics.peerBytes(5000)
            ReconcilerMetrics.peerBytes(-3)  // ignored
            return (before, try await client.fetch("/metrics"))
        }
        #expect(after.status == 200)
        #expect(after.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        for phase in NodeActivity.Phase.allCases {
            #expect(Self.value("rackswarm_nodes{phase=\"\(phase.rawValue)\"}", in: after.body) == 1, "\(phase)")
        }
        #expect(Self.value("rackswarm_suspended_racks", in: after.body) == 0)
        func delta(_ sample: String) -> Double? {
            guard let now = Self.value(sample, in: after.body) else { return nil }
            return now - (Self.value(sample, in: before.body) ?? 0)
        }
        #expect(delta("rackswarm_actions_total{kind=\"consoleTestCycle\",result=\"ok\"}") == 2)
        #expect(delta("rackswarm_actions_total{kind=\"consoleTestInstall\",result=\"failed\"}") == 1)
        #expect(delta("rackswarm_pass_duration_seconds_count") == 1)
        #expect(delta("rackswarm_pass_duration_seconds_bucket{le=\"60.0\"}") == 1)
        #expect(delta("rackswarm_pass_duration_seconds_bucket{le=\"30.0\"}") == 0)
        #expect(delta("rackswarm_seed_bytes_total") == 1000)
        #expect(delta("rackswarm_peer_bytes_total") == 5000)
    }

    @Test func withoutARegistryThereIsNoMetricsRoute() async throws {
        let harness = try await ConsoleHarness.make()
        #expect(try await harness.withClient { try await $0.fetch("/metrics") }.status == 404)
    }
}
