import BootServer
import Console
import Foundation
import Hummingbird
import HummingbirdTesting
import LabSupport
import Logging
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
        // Passes, seed bytes and peer bytes have no label of their own: install and loop tests running in this
        // process beside this one add to them (seen: 5096 seed bytes), so these count at least ours. Their passes
        // are short, so the 42 s one is the only one between the 30 s and 60 s bounds.
        #expect(delta("rackswarm_pass_duration_seconds_count") ?? 0 >= 1)
        let between = delta("rackswarm_pass_duration_seconds_bucket{le=\"60.0\"}").flatMap { upper in
            delta("rackswarm_pass_duration_seconds_bucket{le=\"30.0\"}").map { upper - $0 }
        }
        #expect(between == 1)
        #expect(delta("rackswarm_seed_bytes_total") ?? 0 >= 1000)
        #expect(delta("rackswarm_peer_bytes_total") ?? 0 >= 5000)
    }

    /// On a shared store, the site page and `/metrics` say which reconciler holds each rack; a rack that changed
    /// hands loses its old series.
    @Test func rackLeasesShowOnTheSitePageAndInMetrics() async throws {
        actor Holders {
            var value: [String: String] = ["r1": "reconciler-a"]
            var servers: [String: String] = ["r1": "http://10.0.0.2:8080"]
            func set(_ value: [String: String], servers: [String: String]) {
                self.value = value
                self.servers = servers
            }
        }
        let harness = try await ConsoleHarness.make()
        let holders = Holders()
        let loaded = harness.loaded
        let now = harness.now
        let console = Console(
            source: ClosureConsoleSource(store: harness.store, site: { loaded }, holders: { await holders.value },
                                         servers: { await holders.servers }),
            tokens: nil, prefix: "", metrics: .shared, now: { now })
        let app = Application(router: console.router(context: BootRequestContext.self))
        try await app.test(.router) { client in
            let page = try await client.fetch("/")
            // Where the holder serves the rack's nodes, too: on the page and in the JSON API's tile.
            #expect(page.body.contains("held by reconciler reconciler-a at http://10.0.0.2:8080"), "\(page.body)")
            #expect(page.body.contains("held by no reconciler"), "the other racks")
            let site = try await client.fetch("/api/v1/site").body
            let document = try JSONSerialization.jsonObject(with: Data(site.utf8)) as? [String: Any]
            let tiles = try #require(document?["racks"] as? [[String: Any]])
            let r1 = try #require(tiles.first { $0["name"] as? String == "r1" })
            #expect(r1["server"] as? String == "http://10.0.0.2:8080" && r1["holder"] as? String == "reconciler-a")
            #expect(tiles.filter { $0["server"] != nil }.count == 1, "only the held rack has an address")
            // Each rack's series names its holder and the address the holder serves its nodes at.
            let first = try await client.fetch("/metrics").body
            let heldByA = #"rackswarm_rack_lease{rack="r1",holder="reconciler-a",server="http://10.0.0.2:8080"}"#
            #expect(Self.value(heldByA, in: first) == 1, "\(first)")
            let others = tiles.compactMap { $0["name"] as? String }.filter { $0 != "r1" }
            #expect(!others.isEmpty && others.allSatisfy {
                Self.value("rackswarm_rack_lease{rack=\"\($0)\",holder=\"\",server=\"\"}", in: first) == 1
            }, "an unheld rack has empty labels: \(first)")
            await holders.set(["r1": "reconciler-b"], servers: ["r1": "http://10.0.0.3:8080"])
            let second = try await client.fetch("/metrics").body
            let heldByB = #"rackswarm_rack_lease{rack="r1",holder="reconciler-b",server="http://10.0.0.3:8080"}"#
            #expect(Self.value(heldByB, in: second) == 1, "\(second)")
            #expect(!second.contains(#"holder="reconciler-a""#) && !second.contains("10.0.0.2"),
                    "the old holder's series is gone")
        }
        // One reconciler on its own store: no lease series, no holder line.
        let plain = try await harness.withClient { try await $0.fetch("/") }
        #expect(!plain.body.contains("held by"))
    }

    @Test func withoutARegistryThereIsNoMetricsRoute() async throws {
        let harness = try await ConsoleHarness.make()
        #expect(try await harness.withClient { try await $0.fetch("/metrics") }.status == 404)
    }

    /// The identity of the build, the time of the last pass without a stalled or failed node, and the boot server's
    /// requests and latencies per route, all on the console's `/metrics` with valid Prometheus names.
    @Test func scrapeShowsTheBuildTheLastGoodPassAndTheBootServersRequests() async throws {
        let harness = try await ConsoleHarness.make()
        let metrics = ConsoleMetrics.shared
        let router = try harness.bootServerWithConsole(metrics: metrics)
        let (before, after) = try await Application(router: router).test(.router) { client in
            let before = try await client.fetch("/metrics").body
            #expect(try await client.fetch("/boot/vmlinuz").status == 200)
            #expect(try await client.fetch("/boot/vmlinuz").status == 200)
            #expect(try await client.fetch("/boot/missing").status == 404)
            ReconcilerMetrics.executionEnded(succeeded: true, halted: false, at: 1_800_000_000)
            // Every other series the dashboard and the alerts read, so that the check below finds them all.
            ReconcilerMetrics.actionFinished(kind: "consoleTestDashboard", ok: true)
            ReconcilerMetrics.passFinished(seconds: 1)
            ReconcilerMetrics.seedImages(serving: 1, refused: 0)
            return (before, try await client.fetch("/metrics").body)
        }
        let build = after.split(separator: "\n").first { $0.hasPrefix("rackswarm_build_info{version=\"") }
        #expect(build?.contains(",commit=\"") == true, "\(after)")
        #expect(build.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } == 1, "\(after)")
        // The gauge is process-wide: an executor of another test in this process may have set it since, to its now.
        let lastGood = Self.value("rackswarm_last_successful_pass_timestamp_seconds", in: after)
        #expect(lastGood == 1_800_000_000 || lastGood.map { abs($0 - Date().timeIntervalSince1970) < 3600 } == true,
                "\(String(describing: lastGood))")
        #expect(Self.value("rackswarm_rollout_halted", in: after) == 0)
        // Every sample name is one Prometheus accepts (a dotted swift-metrics label would break the scrape).
        for line in after.split(separator: "\n") where !line.hasPrefix("#") {
            let name = line.prefix { $0 != "{" && $0 != " " }
            #expect(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }, "\(line)")
        }
        // Hummingbird's request counter and duration histogram for the boot files, per route and status. The
        // counters are process-wide and other suites serve boot files at the same time: at least our requests.
        func count(_ prefix: String, _ status: String, in text: String) -> Double {
            text.split(separator: "\n")
                .filter { $0.hasPrefix(prefix) && $0.contains("http_route=\"/**\"") && $0.contains(status) }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        let requests = "rackswarm_http_requests_total{"
        #expect(count(requests, "\"200\"", in: after) - count(requests, "\"200\"", in: before) >= 2, "\(after)")
        #expect(count(requests, "\"404\"", in: after) - count(requests, "\"404\"", in: before) >= 1)
        let latency = "rackswarm_http_request_duration_seconds_count{"
        #expect(count(latency, "\"200\"", in: after) - count(latency, "\"200\"", in: before) >= 2, "\(after)")

        // Every series the shipped dashboard and alert rules name is one this endpoint serves.
        for file in ["deploy/grafana/rackswarm.json", "deploy/prometheus/alerts.yaml"] {
            let text = try String(contentsOfFile: packageRoot + "/" + file, encoding: .utf8)
            let names = Set(text.matches(of: /rackswarm_[a-z_]+/).map { String($0.output) })
                .filter { !$0.hasPrefix("rackswarm_agent_") && $0 != "rackswarm_authors" }
            #expect(names.count >= 4, "\(file): \(names)")
            for name in names.sorted() {
                #expect(after.split(separator: "\n").contains { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") },
                        "\(file) reads \(name), which /metrics does not serve")
            }
        }
    }
}
