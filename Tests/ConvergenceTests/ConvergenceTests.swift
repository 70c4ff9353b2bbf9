import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// `reconcile apply` end to end on the loopback lab: real BMCs (ipmi_sim), the real install environment fetching
/// the image by BitTorrent from the reconciler's seed and tracker, real reports, a real git repo.
@Suite(.serialized)
struct ConvergenceTests {
    /// Each node's journal entries of one commit, by kind.
    func journal(_ lab: LoopbackLab, commit: String? = nil) async throws -> [String: [JournalEntry]] {
        let store = try SQLiteStateStore(path: lab.statePath)
        let entries = try await store.journal(node: nil).filter { commit == nil || $0.commit == commit }
        return Dictionary(grouping: entries, by: \.action.node)
    }

    func expectConverged(_ lab: LoopbackLab, version: String, sourceLocation: Testing.SourceLocation = #_sourceLocation)
        async throws
    {
        let store = try SQLiteStateStore(path: lab.statePath)
        let image = try #require(lab.image)
        for node in lab.nodes {
            let record = try await store.nodeRecord(node.name)
            #expect(record?.status.phase == .ready, "\(node.name): \(record?.lastError ?? "no record")",
                    sourceLocation: sourceLocation)
            #expect(record?.status.image == "os@\(version)", sourceLocation: sourceLocation)
            #expect(lab.disk(node) == image, "\(node.name)'s disk differs from the image", sourceLocation: sourceLocation)
            let hostname = try? String(contentsOfFile: node.directory + "/root/etc/hostname", encoding: .utf8)
            #expect(hostname == node.name + "\n", "post action", sourceLocation: sourceLocation)
        }
    }

    @Test func convergesFromNothingThenFollowsACommitUntilSIGTERM() async throws {
        let lab = try await LoopbackLab(services: ["r1n1": ["web"], "r1n3": ["web"]])
        defer { lab.tearDown() }
        let first = try await lab.apply(log: "apply-1.log")
        #expect(first.status == 0, "\(first.output)\n\(lab.diagnostics())")
        #expect(first.output.contains("Done: 19 of 19 actions; 3 nodes converged, 0 stalled, 0 failed."))
        try await expectConverged(lab, version: "1.0")
        // The WEB service went into the nodes' own roots with dnf, in install order, and its process runs.
        let store = try SQLiteStateStore(path: lab.statePath)
        for node in lab.nodes {
            let wanted = lab.services[node.name] ?? []
            #expect(try await store.nodeRecord(node.name)?.status.services == wanted)
            #expect(FileManager.default.fileExists(atPath: node.directory + "/root/etc/init.d/httpd") == !wanted.isEmpty)
        }
        for node in lab.nodes {
            #expect(lab.bmcLog(node).components(separatedBy: "power 1").count - 1 == 1,
                    "one power-on per node; \(node.name)'s BMC log:\n\(lab.bmcLog(node))\n\(first.output)")
        }
        // The installed first wave seeds its rack: r1n1's agent seeds the image from its disk.
        #expect(lab.console(lab.nodes[0]).contains("seeding the installed image"), "\(lab.diagnostics())")
        let reports = try await SQLiteStateStore(path: lab.statePath).installProgress()
        for node in lab.nodes {
            let report = try #require(reports[node.name]?.report)
            #expect(report.phase == .rebooting && report.downloaded == Int64(lab.image?.count ?? 0))
        }
        // Waves: r1n1 (firstWave 1) finished its install before the others started theirs.
        let entries = try await journal(lab).values.flatMap { $0 }
        let firstDone = try #require(entries.first { $0.action.node == "r1n1" && $0.action.kind == .bootLocal }?.finishedAt)
        for other in ["r1n2", "r1n3"] {
            let started = try #require(entries.first { $0.action.node == other && $0.action.kind == .writeBootEntry }?.startedAt)
            #expect(started >= firstDone)
        }

        // A second commit (a new image version) under the timer-driven loop, with the console and /metrics on
        // the reconciler's management listener; an operator's pass request runs a pass long before the hour is up; then
        // SIGTERM ends the loop cleanly.
        lab.imageVersion = "1.1"
        try lab.writeSite()
        try await lab.commit("os 1.1")
        try "ops:lab-operator-token\n".write(toFile: lab.root + "/tokens", atomically: true, encoding: .utf8)
        let loop = try lab.startApply(["--every", "1h", "--token-file", lab.root + "/tokens"], log: "loop.log")
        var converged = false
        for _ in 0..<600 where !converged {
            try await Task.sleep(for: .milliseconds(500))
            converged = loop.output.contains("3 nodes converged")
        }
        #expect(converged, "\(loop.output)\n\(lab.diagnostics())")
        #expect(loop.output.contains("Plan: 0 to provision, 3 to reimage"))
        let base = lab.consoleBase
        let page = try await http("GET", base + "/console")
        #expect(page.status == 200 && page.body.contains("r1n3"), "\(page)")
        let metrics = try await http("GET", base + "/metrics")
        #expect(metrics.body.contains(#"rackswarm_actions_total{kind="installImage",result="ok"} 3"#), "\(metrics.body)")
        #expect(metrics.body.contains(#"rackswarm_nodes{phase="ready"} 3"#))
        #expect(try await http("POST", base + "/console/api/v1/pass").status == 401)
        let passes = loop.output.components(separatedBy: "\nDone: ").count
        let requested = try await http("POST", base + "/console/api/v1/pass", token: "lab-operator-token")
        #expect((200..<300).contains(requested.status), "\(requested)")
        var another = false
        for _ in 0..<100 where !another {
            try await Task.sleep(for: .milliseconds(200))
            another = loop.output.components(separatedBy: "\nDone: ").count > passes
        }
        #expect(another, "the requested pass ran: \(loop.output)")
        #expect(loop.output.contains("No changes."), "the requested pass found the site converged")
        // Heartbeats (every 5 s here) newer than each node's last change stand in for asking the agents.
        var fromHeartbeats = false
        for _ in 0..<6 where !fromHeartbeats {
            try await Task.sleep(for: .seconds(3))
            let done = loop.output.components(separatedBy: "\nDone: ").count
            _ = try await http("POST", base + "/console/api/v1/pass", token: "lab-operator-token")
            for _ in 0..<100 where loop.output.components(separatedBy: "\nDone: ").count == done {
                try await Task.sleep(for: .milliseconds(200))
            }
            fromHeartbeats = loop.output.contains("observed 3 nodes from heartbeats")
        }
        #expect(fromHeartbeats, "the agents' heartbeats stood in: \(loop.output)")
        #expect(!loop.output.contains("(drift: repair)"), "heartbeats reported no false drift")
        loop.signal(SIGTERM)
        #expect(await loop.wait(timeout: 60) == 0, "SIGTERM must end the loop with status 0: \(loop.output)")
        try await expectConverged(lab, version: "1.1")
    }

    /// A small HTTP client over curl (status and body).
    func http(_ method: String, _ url: String, token: String? = nil) async throws -> (status: Int, body: String) {
        var arguments = ["-s", "-X", method, "-w", "\n%{http_code}", "--max-time", "20", url]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        let result = await runCommand("/usr/bin/curl", arguments, timeout: 30)
        var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    @Test func aWrongBMCPasswordStallsThatNodeAndTheOthersConverge() async throws {
        let lab = try await LoopbackLab(wrongPassword: ["r1n2"])
        defer { lab.tearDown() }
        let result = try await lab.apply(log: "apply.log")
        #expect(result.status == 1)
        #expect(result.output.contains("stalled: r1n2: ipmi://127.0.0.1:\(lab.nodes[1].bmcPort): authenticationFailed"),
                "\(result.output)")
        #expect(result.output.contains("2 nodes converged, 1 stalled, 0 failed"))
        #expect(lab.bmcLog(lab.nodes[1]).isEmpty, "nothing reached the node whose BMC refused us")
        let store = try SQLiteStateStore(path: lab.statePath)
        #expect(try await store.nodeRecord("r1n2")?.lastError?.contains("authenticationFailed") == true)
        #expect(try await store.nodeRecord("r1n1")?.status.phase == .ready)
        #expect(try await store.nodeRecord("r1n3")?.status.phase == .ready)
    }

    @Test func aSuspendedRackIsLeftAloneUntilResumed() async throws {
        let lab = try await LoopbackLab(nodes: 1)
        defer { lab.tearDown() }
        let store = try SQLiteStateStore(path: lab.statePath)
        try await store.suspendRack("r1", actor: "ops", remote: nil, at: Date())
        let held = try await lab.apply(log: "held.log")
        #expect(held.status == 0, "\(held.output)")
        #expect(held.output.contains("suspended by an operator: r1"))
        #expect(held.output.contains("No changes."))
        #expect(lab.bmcLog(lab.nodes[0]).isEmpty, "a suspended rack's node was touched")
        try await store.resumeRack("r1", actor: "ops", remote: nil, at: Date())
        let resumed = try await lab.apply(log: "resumed.log")
        #expect(resumed.status == 0, "\(resumed.output)\n\(lab.diagnostics())")
        try await expectConverged(lab, version: "1.0")
    }

    @Test func aCorruptedImageTouchesNoNodeAndSaysWhy() async throws {
        let lab = try await LoopbackLab()
        defer { lab.tearDown() }
        // Change one byte of the image without changing the SHA-256 the repo states.
        let handle = try #require(FileHandle(forWritingAtPath: lab.siteDirectory + "/images/os.img"))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data([0xff, 0x00, 0xff]))
        try handle.close()
        try await lab.commit("corrupt the image")
        let result = try await lab.apply(log: "apply.log")
        #expect(result.status == 1)
        #expect(result.output.contains("file site/images/os.img has SHA-256"))
        #expect(result.output.contains("but site/images/os.yaml:8:"))
        #expect(result.output.contains("no node of this image is touched"))
        for node in lab.nodes {
            #expect(lab.bmcLog(node).isEmpty, "\(node.name) was touched")
            #expect(lab.disk(node) == nil)
        }
        #expect(!FileManager.default.fileExists(atPath: lab.httpRoot + "/images/os@1.0"), "nothing served")
    }

    @Test func anInstallThatNeverReportsTimesOutAndIsRetried() async throws {
        let lab = try await LoopbackLab(nodes: 2, installTimeout: "12s")
        defer { lab.tearDown() }
        _ = FileManager.default.createFile(atPath: lab.nodes[0].directory + "/hang-once", contents: Data())
        let result = try await lab.apply(log: "apply.log")
        #expect(result.status == 0, "\(result.output)\n\(lab.diagnostics())")
        #expect(lab.console(lab.nodes[0]).contains("install environment hangs"))
        let entries = try await journal(lab)["r1n1"] ?? []
        let installs = entries.filter { $0.action.kind == .installImage }
        #expect(installs.count == 1, "the retry is an attempt of the same journaled step")
        #expect(result.output.contains("install stopped or failed; network-booting the node again")
                || result.output.contains("retrying"), "\(result.output)")
        #expect(lab.bmcLog(lab.nodes[0]).components(separatedBy: "power 1").count - 1 >= 2, "booted again")
        try await expectConverged(lab, version: "1.0")
    }

    @Test func killNineMidWaveThenARestartConvergesWithoutRepeatingDestructiveSteps() async throws {
        let lab = try await LoopbackLab()
        defer { lab.tearDown() }
        let first = try lab.startApply(log: "killed.log")
        // Kill the reconciler while the first wave's install is in flight.
        var inFlight = false
        for _ in 0..<600 where !inFlight {
            try await Task.sleep(for: .milliseconds(100))
            inFlight = lab.console(lab.nodes[0]).contains("install kernel with")
        }
        #expect(inFlight, "\(first.output)\n\(lab.diagnostics())")
        first.signal(SIGKILL)
        _ = await first.wait(timeout: 10)
        let second = try await lab.apply(log: "resumed.log")
        #expect(second.status == 0, "\(second.output)\n\(lab.diagnostics())")
        try await expectConverged(lab, version: "1.0")
        let byNode = try await journal(lab)
        for node in lab.nodes {
            let entries = byNode[node.name] ?? []
            for kind in [PlannedAction.Kind.powerCycle, .installImage] {
                let finished = entries.filter { $0.action.kind == kind && $0.state == .finished }.count
                #expect(finished == 1, "\(node.name) \(kind.rawValue) finished \(finished) times")
            }
            // The install in flight at the kill was waited on, not restarted by another power cycle.
            #expect(lab.bmcLog(node).components(separatedBy: "power 1").count - 1 == 1,
                    "\(node.name) powered on again")
        }
    }
}
