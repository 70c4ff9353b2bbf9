import Foundation
import LabSupport
import Reconciler
import ReconcilerPostgres
import Testing

extension LoopbackLab {
    /// Starts reconciler `index` of several on the PostgreSQL store `state`, looping every 3 s. Reconciler 0
    /// listens at 127.0.0.1, where the nodes' firmware and heartbeats go (the lab's DHCP next-server); the others
    /// listen at 127.X.9.N with seeds, heartbeats, consoles and git caches of their own. Boot entries and tokens
    /// are files under the site's shared boot roots, and reports land in the shared store, so the reconciler that
    /// holds a node's rack sees its install whoever received the report.
    func startShard(_ index: Int, state: String, ttl: String = "6s", log: String) throws -> LabProcess {
        let listen = index == 0 ? "127.0.0.1" : "127.\(octet).9.\(index)"
        let arguments = [
            "apply", "--repo", "file://" + repo, "--path", "site", "--cache", root + "/cache-\(index)",
            "--state", state, "--shard-id", "s\(index)", "--lease-ttl", ttl, "--every", "3s",
            "--listen", listen, "--seed-port", "\(index == 0 ? seedPort : try freePort())",
            "--backoff", "1s", "--attempts", "3", "--yes",
            "--heartbeat-listen", "\(listen):\(index == 0 ? heartbeatPort : try freePort())",
            "--console-listen", "127.0.0.1:\(index == 0 ? consolePort : try freePort())",
        ]
        return try LabProcess(binaries + "/reconcile", arguments,
                              environment: ["RACKSWARM_LAB_BMC_PASSWORD": Self.password], outputFile: root + "/" + log)
    }

    /// Power-ons the node's BMC ran.
    func powerOns(_ node: LabNode) -> Int { bmcLog(node).components(separatedBy: "power 1").count - 1 }

    /// True once every node's install environment is running (held in its post actions).
    var everyInstallInFlight: Bool { nodes.allSatisfy { console($0).contains("install kernel with") } }
}

/// Several real `reconcile apply` processes on one real PostgreSQL, driving the loopback lab (real ipmi_sim BMCs,
/// real installs by BitTorrent): a reconciler killed with SIGKILL mid-wave, and one cut off from the database by a
/// proxy the test closes. The survivors take the racks and converge them; each destructive step is done once,
/// checked from the shared journal and from the BMCs' own logs.
@Suite(.serialized)
struct ScaleOutTests {
    /// A fresh database with `shards` registered as alive for 30 s, as if they had been running: each one's first
    /// pass then takes an even share rather than the first to start taking every rack.
    static func database(shards: Int) async throws -> (url: String, reader: PostgresStateStore) {
        let url = try await PostgresServer.shared.newDatabase()
        let location = try PostgresLocation(parsing: url)
        for index in 0..<shards {
            let store = try await PostgresStateStore.connect(location, shard: "s\(index)")
            _ = try await store.heartbeat(address: nil, ttl: .seconds(30))
            store.close()
        }
        return (url, try await PostgresStateStore.connect(location))
    }

    /// Waits until s0, whose boot server every node talks to, answers on it. Another reconciler that power-cycles
    /// a node before then sends it to a firmware that finds no boot entry and boots from disk; the install then
    /// waits out its timeout and the retry powers the node on a second time (the intermittent double power-on of
    /// session 5). Until each reconciler serves its own racks (issue 20, item 2), the nodes' boot server is up first.
    static func nodesCanBoot(_ lab: LoopbackLab) async throws -> Bool {
        try await eventually(60) { tcpPortAccepts(lab.httpPort) }
    }

    /// Polls until `done` or `seconds` pass, twice a second (`LabSupport.eventually`); answers whether it was done.
    static func eventually(_ seconds: Double, _ done: () async throws -> Bool) async throws -> Bool {
        try await LabSupport.eventually(seconds, every: .milliseconds(500), done)
    }

    /// Every node ready with the image on its disk; each power cycle and install finished once in the shared
    /// journal, and each BMC powered its node on once.
    static func expectConvergedOnce(
        _ lab: LoopbackLab, _ reader: PostgresStateStore, logs: @autoclosure () -> String = "",
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        let image = try #require(lab.image)
        let records = try await reader.nodeRecords()
        let journal = Dictionary(grouping: try await reader.journal(node: nil), by: \.action.node)
        for node in lab.nodes {
            #expect(records[node.name]?.status.phase == .ready, "\(node.name): \(records[node.name]?.lastError ?? "")",
                    sourceLocation: sourceLocation)
            #expect(lab.disk(node) == image, "\(node.name)'s disk differs from the image",
                    sourceLocation: sourceLocation)
            for kind in [PlannedAction.Kind.powerCycle, .installImage] {
                let finished = (journal[node.name] ?? []).filter { $0.action.kind == kind && $0.state == .finished }
                #expect(finished.count == 1, "\(node.name) \(kind.rawValue) finished \(finished.count) times",
                        sourceLocation: sourceLocation)
            }
            // A second power-on with one journaled power cycle is an install retry's network boot (its wait timed
            // out): the logs say "retrying" for installImage, the BMC log shows "boot pxe" before it.
            #expect(lab.powerOns(node) == 1,
                    "\(node.name) powered on \(lab.powerOns(node)) times; BMC log:\n\(lab.bmcLog(node))\n\(logs())",
                    sourceLocation: sourceLocation)
        }
    }

    /// The install step's timeout in these labs: longer than the tests hold installs (up to 180 s until every one
    /// is in flight, then the takeover). With the default 90 s, an install held past it would time out and its retry
    /// network-boot the node again.
    static let installTimeout = "10m"

    static func logs(_ processes: [LabProcess]) -> String {
        processes.enumerated().map { "== s\($0.offset)\n\($0.element.output.suffix(6000))" }.joined(separator: "\n")
    }

    @Test func killNineOfOneOfThreeMidWaveTheOthersTakeItsRacksAndRepeatNothing() async throws {
        let lab = try await LoopbackLab(nodes: 1, racks: 3, installTimeout: Self.installTimeout, holdInstalls: true)
        let (url, reader) = try await Self.database(shards: 3)
        var processes: [LabProcess] = []
        defer {
            for process in processes { process.signal(SIGKILL) }
            reader.close()
            lab.tearDown()
        }
        processes.append(try lab.startShard(0, state: url, log: "s0.log"))
        #expect(try await Self.nodesCanBoot(lab), "\(Self.logs(processes))")
        for index in 1..<3 { processes.append(try lab.startShard(index, state: url, log: "s\(index).log")) }
        // Every install is in flight (held in its post actions), each rack held by a different reconciler.
        let inFlight = try await Self.eventually(180) { lab.everyInstallInFlight }
        #expect(inFlight, "\(lab.diagnostics(tail: 40))\n\(Self.logs(processes))")
        let leases = try await reader.rackLeases()
        #expect(Set(leases.compactMap(\.holder)) == ["s0", "s1", "s2"], "\(leases)")
        // Kill a reconciler other than the one the nodes talk to, holding a rack whose install is running.
        let victimLease = try #require(leases.first { $0.holder != "s0" })
        let victim = try #require(Int(victimLease.holder?.dropFirst() ?? ""))
        processes[victim].signal(SIGKILL)
        _ = await processes[victim].wait(timeout: 10)
        let killed = Date()
        for node in lab.nodes { try lab.release(node) }

        // The survivors take the rack once the lease lapsed (6 s) and at their next renewal.
        var takenAfter: TimeInterval?
        let taken = try await Self.eventually(60) {
            let lease = try await reader.rackLeases().first { $0.rack == victimLease.rack }
            guard let holder = lease?.holder, holder != victimLease.holder else { return false }
            takenAfter = takenAfter ?? Date().timeIntervalSince(killed)
            return lease?.token ?? 0 > victimLease.token
        }
        #expect(taken, "\(Self.logs(processes))")
        #expect((takenAfter ?? 99) < 30, "taken \(takenAfter ?? -1) s after the kill; lease TTL 6 s")
        let converged = try await Self.eventually(240) {
            try await reader.nodeRecords().values.filter { $0.status.phase == .ready }.count == lab.nodes.count
        }
        #expect(converged, "\(lab.diagnostics(tail: 40))\n\(Self.logs(processes))")
        // Any reconciler's console and /metrics show the whole site and who holds which rack: s0's, which holds
        // one rack (or two), shows all three.
        let holders = try await reader.rackHolders()
        #expect(Set(holders.keys) == Set(lab.racks) && !holders.values.contains("s\(victim)"), "\(holders)")
        let metrics = await runCommand("/usr/bin/curl", ["-sf", lab.consoleBase + "/metrics"]).output
        let page = await runCommand("/usr/bin/curl", ["-sf", lab.consoleBase + "/console"]).output
        for (rack, holder) in holders {
            #expect(metrics.contains("rackswarm_rack_lease{rack=\"\(rack)\",holder=\"\(holder)\"} 1"), "\(metrics)")
            #expect(page.contains("held by reconciler \(holder)"), "\(rack)")
        }
        #expect(lab.nodes.allSatisfy { page.contains("data-node=\"\($0.name)\"") }, "every node, whoever holds it")
        for (index, process) in processes.enumerated() where index != victim {
            process.signal(SIGTERM)
            _ = await process.wait(timeout: 60)
        }
        try await Self.expectConvergedOnce(lab, reader, logs: Self.logs(processes))
        print("scale-out: rack \(victimLease.rack) of s\(victim) taken \(takenAfter ?? -1) s after kill -9")
    }

    @Test func aReconcilerCutOffFromPostgreSQLStopsActingAndAnotherTakesItsRacks() async throws {
        let lab = try await LoopbackLab(nodes: 1, racks: 2, installTimeout: Self.installTimeout, holdInstalls: true)
        let (url, reader) = try await Self.database(shards: 2)
        let endpoint = try await PostgresServer.shared.endpoint()
        let proxy = try await TCPProxy(to: "127.0.0.1", port: endpoint.port)
        var processes: [LabProcess] = []
        defer {
            for process in processes { process.signal(SIGKILL) }
            proxy.stop()
            reader.close()
            lab.tearDown()
        }
        let proxied = url.replacingOccurrences(of: "127.0.0.1:\(endpoint.port)/", with: "127.0.0.1:\(proxy.port)/")
        processes.append(try lab.startShard(0, state: url, log: "s0.log"))
        #expect(try await Self.nodesCanBoot(lab), "\(Self.logs(processes))")
        processes.append(try lab.startShard(1, state: proxied, log: "s1.log"))
        let inFlight = try await Self.eventually(180) { lab.everyInstallInFlight }
        #expect(inFlight, "\(lab.diagnostics(tail: 40))\n\(Self.logs(processes))")
        let cutRack = try #require(try await reader.rackLeases().first { $0.holder == "s1" }, "s1 holds a rack")
        proxy.cut()
        for node in lab.nodes { try lab.release(node) }

        let taken = try await Self.eventually(60) {
            let lease = try await reader.rackLeases().first { $0.rack == cutRack.rack }
            return lease?.holder == "s0" && lease?.token ?? 0 > cutRack.token
        }
        #expect(taken, "\(Self.logs(processes))")
        let converged = try await Self.eventually(240) {
            try await reader.nodeRecords().values.filter { $0.status.phase == .ready }.count == lab.nodes.count
        }
        #expect(converged, "\(lab.diagnostics(tail: 40))\n\(Self.logs(processes))")
        // s1 is alive, knows it lost its racks, and acted on nothing more: each node was powered on once.
        #expect(kill(processes[1].pid, 0) == 0, "the cut-off reconciler keeps running")
        #expect(processes[1].output.contains("acting on none"), "\(Self.logs(processes))")
        for process in processes {
            process.signal(SIGTERM)
            _ = await process.wait(timeout: 60)
        }
        try await Self.expectConvergedOnce(lab, reader, logs: Self.logs(processes))
    }
}
