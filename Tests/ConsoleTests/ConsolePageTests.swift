import BootServer
import Console
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Reconciler
import Testing

/// Every page against a seeded state store: what each shows, and that unknown names are a 404.
struct ConsolePageTests {
    @Test func sitePageHasRackTilesPhaseCellsCommitCountsAndETA() async throws {
        let harness = try await ConsoleHarness.make()
        let page = try await harness.page("/")
        #expect(page.headers[.contentType] == "text/html; charset=utf-8")
        #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        for rack in ["r1", "r2", "r3"] { #expect(page.body.contains("class=\"rack\" data-rack=\"\(rack)\"")) }
        for (node, phase) in ConsoleTestSite.phases {
            #expect(page.body.contains("class=\"cell phase-\(phase.rawValue)\" data-node=\"\(node)\" "
                                       + "data-phase=\"\(phase.rawValue)\""), "\(node) should be \(phase)")
        }
        #expect(page.body.contains(String(harness.site.commit.prefix(12))))
        #expect(page.body.contains("Ada Operator"))
        #expect(page.body.contains("ready 1") && page.body.contains("downloading 1") && page.body.contains("unknown 1"))
        #expect(page.body.contains("width: 42%"), "the downloading cell shows its progress")
        // 10 nodes still need the image; see the API test for the figures.
        #expect(page.body.contains("10 nodes to install"))
        #expect(page.body.contains("35m 4"), "ETA ~35 min from 549 MiB left at 256 KiB/s")
    }

    @Test func siteAPIServesTheSameDataAndExplainsTheETA() async throws {
        let harness = try await ConsoleHarness.make()
        let siteDocument = try await harness.withClient { try await $0.json("/api/v1/site") }
        let site = try #require(siteDocument.value as? [String: Any])
        #expect(site["site"] as? String == "dc1")
        let commit = try #require(site["commit"] as? [String: Any])
        #expect(commit["sha"] as? String == harness.site.commit)
        #expect(commit["author"] as? String == "Ada Operator <ada@example.com>")
        let counts = try #require(site["counts"] as? [String: Int])
        for phase in NodeActivity.Phase.allCases { #expect(counts[phase.rawValue] == 1, "\(phase)") }
        let racks = try #require(site["racks"] as? [[String: Any]])
        #expect(racks.map { $0["name"] as? String } == ["r1", "r2", "r3"])
        let convergence = try #require(site["convergence"] as? [String: Any])
        // Size 64 MiB (from the finished reports); r1n2 went from 10% to 42% in the last 80 s of samples.
        let size: Int64 = 64 << 20
        let r1n2Has = Int64(Double(size) * 0.42)
        let expectedRemaining = 8 * size + (size - r1n2Has)  // r1n3 has written its image
        let expectedRate = Double(r1n2Has - Int64(Double(size) * 0.10)) / 80
        #expect((convergence["remainingBytes"] as? NSNumber)?.int64Value == expectedRemaining)
        let rate = try #require((convergence["rateBytesPerSecond"] as? NSNumber)?.doubleValue)
        #expect(abs(rate - expectedRate) < 1)
        let eta = try #require((convergence["etaSeconds"] as? NSNumber)?.doubleValue)
        #expect(abs(eta - Double(expectedRemaining) / expectedRate) < 1)
        #expect((convergence["method"] as? String)?.contains("divided by") == true)
    }

    @Test func nodePageShowsLocationBMCWithoutCredentialsPowerServicesAndJournal() async throws {
        let harness = try await ConsoleHarness.make()
        let (ready, redfish, stalled) = try await harness.withClient { client in
            (try await client.fetch("/nodes/r1n1"), try await client.fetch("/nodes/r3n1"),
             try await client.fetch("/nodes/r2n4"))
        }
        #expect(ready.status == 200)
        let line = try #require(harness.loaded.desired.node(named: "r1n1")?.location.line)
        #expect(ready.body.contains("racks/r1.yaml:\(line)"))
        #expect(ready.body.contains("ipmi://127.0.0.1<"), "scheme and host, no port")
        #expect(ready.body.contains("<td>on (BMC)</td>"), "the power state the data source observed")
        #expect(ready.body.contains("debian-12@12.15"))
        #expect(ready.body.contains("apache#1") && ready.body.contains("httpd-2.2.9-4.Gxdl.i386.rpm")
                && ready.body.contains("/etc/init.d/httpd"))
        #expect(ready.body.contains("class=\"ok\">alive<"))
        #expect(occurrences(of: "data-state=\"finished\"", in: ready.body) == 3)
        #expect(ready.body.contains("installImage ⚠"), "destructive steps are marked")
        #expect(ready.body.contains("<th>hardware</th><td><div>16 CPUs (Xeon), 64.0 GiB memory</div>"
                                    + "<div>disk nvme0n1 960.0 GiB PM983 serial S4EMNX0R</div>"
                                    + "<div>nic eth0 52:54:00:77:01:01 up 25000 Mb/s mlx5_core</div>"), "\(ready.body)")
        #expect(stalled.body.contains("<th>hardware</th><td>not reported yet</td>"))

        #expect(redfish.body.contains("redfish+https://10.99.0.31<"))
        for secret in ["/redfish/v1/Systems/1", "RACKSWARM_TEST_R3_SECRET", "admin"] {
            #expect(!redfish.body.contains(secret), "the node page must not show \(secret)")
        }
        #expect(redfish.body.contains("BMC refused the password"))
        #expect(redfish.body.contains("<th>power</th><td>unknown</td>"), "no power step ran on r3n1")
        #expect(redfish.body.contains("mediaServer"), "vod's process")
        #expect(redfish.body.contains(">not installed<"))

        #expect(stalled.body.contains("data-state=\"failed\""))
        #expect(stalled.body.contains("agent: dnf failed"))
    }

    @Test func swarmPageShowsPiecesPerRackSeedVersusPeersRateChartAndUploadStart() async throws {
        let harness = try await ConsoleHarness.make()
        let page = try await harness.page("/swarm")
        #expect(page.body.contains("data-image=\"debian-12@12.15\""))
        // 4 MiB pieces, 16 per node: r1n1 and r1n3 whole, r1n2 has 42% = 6 whole pieces.
        #expect(page.body.contains("<td>38 / 48</td>"))
        #expect(page.body.contains("<svg class=\"chart\"") && occurrences(of: "<polyline", in: page.body) == 2)
        #expect(page.body.contains("nodes started uploading at 12%"), "median of 6.25, 12.5 and 25")

        let swarmDocument = try await harness.withClient { try await $0.json("/api/v1/swarm") }
        let swarm = try #require(swarmDocument.value as? [String: Any])
        let image = try #require((swarm["images"] as? [[String: Any]])?.first)
        let racks = try #require(image["racks"] as? [[String: Any]])
        let r1 = try #require(racks.first { $0["rack"] as? String == "r1" })
        let size: Int64 = 64 << 20
        let r1n2 = Int64(Double(size) * 0.42)
        let seed = size + r1n2 / 8 + (16 << 20)
        #expect((r1["fromSeed"] as? NSNumber)?.int64Value == seed)
        #expect((r1["fromPeers"] as? NSNumber)?.int64Value == 2 * size + r1n2 - seed)
        let rates = try #require(image["rates"] as? [[String: Any]])
        #expect(rates.count == 30)
        #expect(rates.contains { (($0["download"] as? NSNumber)?.doubleValue ?? 0) > 0 })
    }

    @Test func servicesPageIsTheSoftwareDBWithNodesAndDrift() async throws {
        let harness = try await ConsoleHarness.make()
        let drifting = NodeStatus(phase: .provisioning, services: ["vod"], drifted: ["vod"], rack: "r2")
        try await harness.store.record(drifting, lastError: nil, for: "r2n1", at: harness.now)
        let page = try await harness.page("/services")
        #expect(page.body.contains("data-service=\"web\"") && page.body.contains("data-service=\"vod\""))
        // vod's software in install order: cd#1 (order 1) before cs#1 (order 2).
        let cd = try #require(page.body.range(of: "cd#1"))
        let cs = try #require(page.body.range(of: "cs#1"))
        #expect(cd.lowerBound < cs.lowerBound)
        #expect(page.body.contains("/etc/init.d/cs") && page.body.contains("mediaServer"))
        #expect(page.body.contains("class=\"drift\">r2n1<"))

        let services = try #require(try await harness.withClient { try await $0.json("/api/v1/services") }.value
            as? [String: Any])
        let list = try #require(services["services"] as? [[String: Any]])
        let web = try #require(list.first { $0["name"] as? String == "web" })
        #expect(web["running"] as? [String] == ["r1n1"])
        let vod = try #require(list.first { $0["name"] as? String == "vod" })
        #expect(vod["drifted"] as? [String] == ["r2n1"])
    }

    @Test func planPageGroupsThePendingPlanByRackAndWaveAndMarksDestructiveActions() async throws {
        let harness = try await ConsoleHarness.make()
        let page = try await harness.page("/plan")
        let plan = Planner.plan(desired: harness.loaded.desired, observed: try await harness.store.observedState())
        #expect(!plan.actions.isEmpty)
        #expect(occurrences(of: "data-destructive=\"true\"", in: page.body) == plan.actions.filter(\.destructive).count)
        #expect(occurrences(of: "data-destructive=", in: page.body) == plan.actions.count)
        for rack in Set(plan.actions.map(\.rack)) { #expect(page.body.contains("data-rack=\"\(rack)\"")) }
        for wave in Set(plan.actions.map(\.wave)) { #expect(page.body.contains("wave \(wave)")) }

        let jsonDocument = try await harness.withClient { try await $0.json("/api/v1/plan") }
        let json = try #require(jsonDocument.value as? [String: Any])
        let racks = try #require(json["racks"] as? [[String: Any]])
        let total = racks.flatMap { ($0["waves"] as? [[String: Any]]) ?? [] }
            .flatMap { ($0["actions"] as? [[String: Any]]) ?? [] }.count
        #expect(total == plan.actions.count)
    }

    @Test func apiRoutesAssetsFragmentsAndNotFound() async throws {
        let harness = try await ConsoleHarness.make()
        try await harness.withClient { client in
            let nodes = try #require(try await client.json("/api/v1/nodes").value as? [[String: Any]])
            #expect(nodes.count == ConsoleTestSite.phases.count)
            for node in nodes {
                let name = try #require(node["node"] as? String)
                #expect(node["phase"] as? String == ConsoleTestSite.phases[name]?.rawValue)
            }
            let node = try #require(try await client.json("/api/v1/nodes/r1n2").value as? [String: Any])
            #expect((node["activity"] as? [String: Any])?["phase"] as? String == "downloading")
            #expect((node["bmc"] as? [String: Any])?["host"] as? String == "127.0.0.1")
            let actions = try #require(try await client.json("/api/v1/actions").value as? [String: Any])
            #expect((actions["audit"] as? [Any])?.isEmpty == true)

            #expect(try await client.fetch("/nodes/nope").status == 404)
            let missing = try await client.fetch("/api/v1/nodes/nope")
            #expect(missing.status == 404 && missing.body.contains("no node named 'nope'"))

            let css = try await client.fetch("/assets/console.css")
            #expect(css.status == 200 && css.headers[.contentType] == "text/css; charset=utf-8")
            for phase in NodeActivity.Phase.allCases { #expect(css.body.contains(".phase-\(phase.rawValue) {")) }
            let script = try await client.fetch("/assets/console.js")
            #expect(script.status == 200 && script.body.contains("fragment") && script.body.contains("Bearer"))

            let fragment = try await client.fetch("/?fragment=main")
            #expect(fragment.status == 200 && fragment.body.hasPrefix("<h1>") && !fragment.body.contains("<html"))
        }
    }

    /// The console beside the boot files on the boot server's router, under a prefix.
    @Test func mountsOnTheBootServerUnderAPrefix() async throws {
        let harness = try await ConsoleHarness.make()
        let router = try harness.bootServerWithConsole(metrics: .shared)
        try await Application(router: router).test(.router) { client in
            let site = try await client.fetch("/console")
            #expect(site.status == 200 && site.body.contains("href=\"/console/nodes/r1n1\""))
            #expect(site.body.contains("href=\"/console/assets/console.css\""))
            #expect(try await client.fetch("/console/assets/console.js").status == 200)
            let node = try await client.fetch("/console/nodes/r1n1")
            #expect(node.status == 200 && node.body.contains("<th>power</th><td>off</td>"))
            #expect(try await client.fetch("/console/api/v1/site").status == 200)
            let metrics = try await client.fetch("/metrics")
            #expect(metrics.status == 200 && metrics.body.contains("rackswarm_nodes{phase=\"ready\"} 1"))
            #expect(try await client.fetch("/swarm").status == 404, "outside the prefix, the boot files answer")
            let kernel = try await client.fetch("/boot/vmlinuz")
            #expect(kernel.status == 200 && kernel.body == "kernel")
        }
    }
}
