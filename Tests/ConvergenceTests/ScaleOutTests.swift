import Foundation
import LabSupport
import Reconciler
import ReconcilerPostgres
import Testing

extension LoopbackLab {
    /// Starts reconciler `index` of several on the PostgreSQL store `state`, looping every 3 s. Reconciler 0
    /// listens at 127.0.0.1, the site's serverAddress, where heartbeats go; the others listen at 127.X.9.N with
    /// seeds, heartbeats and git caches of their own. Each advertises its address (`--advertise`): the entries it
    /// writes send its racks' nodes there for the kernel, the `.torrent`, the tracker and the reports, and its DHCP
    /// server (`dhcpServer`, when the test puts it on the segment) offers it as the first hop. Boot entries and
    /// tokens are files under the site's shared boot roots, and reports land in the shared store. `console` is its
    /// console's port (default: the lab's for reconciler 0, a free one for the others).
    func startShard(_ index: Int, state: String, ttl: String = "6s", console: Int? = nil, log: String) throws
        -> LabProcess
    {
        let listen = shardHost(index)
        let arguments = [
            "apply", "--repo", "file://" + repo, "--path", "site", "--cache", root + "/cache-\(index)",
            "--state", state, "--shard-id", "s\(index)", "--lease-ttl", ttl, "--every", "3s",
            "--listen", listen, "--advertise", listen, "--seed-port", "\(index == 0 ? seedPort : try freePort())",
            "--backoff", "1s", "--attempts", "3", "--yes",
            "--heartbeat-listen", "\(listen):\(index == 0 ? heartbeatPort : try freePort())",
            "--console-listen", "127.0.0.1:\(try console ?? (index == 0 ? consolePort : freePort()))",
        ]
        return try LabProcess(binaries + "/reconcile", arguments,
                              environment: ["RACKSWARM_LAB_BMC_PASSWORD": Self.password], outputFile: root + "/" + log)
    }

    /// Where reconciler `index` listens and what it advertises.
    func shardHost(_ index: Int) -> String { index == 0 ? "127.0.0.1" : "127.\(octet).9.\(index)" }

    /// The HTTP base reconciler `index` advertises, as its membership row and its entries carry it.
    func shardBase(_ index: Int) -> String { "http://\(shardHost(index)):\(httpPort)" }

    /// Reconciler `index`'s DHCP server as the firmware asks it (`setDHCPServers`): its own address, next-server.
    func dhcpServer(_ index: Int) -> String { "\(shardHost(index)):\(httpPort)" }

    /// The node's per-MAC iPXE script in the shared HTTP root.
    func bootScript(_ node: LabNode) -> String {
        let pxe = "01-" + node.mac.lowercased().replacingOccurrences(of: ":", with: "-")
        return (try? String(contentsOfFile: httpRoot + "/ipxe/\(pxe).ipxe", encoding: .utf8)) ?? ""
    }

    /// True when the node's script sends it to `base` for its kernel and reports, with `fallbacks` listed.
    func bootScript(_ node: LabNode, names base: String, fallbacks: [String]) -> Bool {
        let script = bootScript(node)
        return script.contains("kernel \(base)/") && script.contains("rackswarm.report=\(base)/report/\(node.name)")
            && script.contains("rackswarm.torrent=\(base)/torrents/") && script.contains("rackswarm.tracker=\(base)/")
            && script.contains("rackswarm.fallback=\(fallbacks.joined(separator: ",")) ")
    }

    /// Power-ons the node's BMC ran.
    func powerOns(_ node: LabNode) -> Int { bmcLog(node).components(separatedBy: "power 1").count - 1 }

    /// True once every node's install environment is running (held in its post actions).
    var everyInstallInFlight: Bool { nodes.allSatisfy(installStarted) }

    /// True once the node's install environment runs.
    func installStarted(_ node: LabNode) -> Bool { console(node).contains("install kernel with") }
}

/// Several real `reconcile apply` processes on one real PostgreSQL, driving the loopback lab (real ipmi_sim BMCs,
/// real installs by BitTorrent): a reconciler killed with SIGKILL mid-wave, and one cut off from the database by a
/// proxy the test closes. The survivors take the racks and converge them; each destructive step is done once,
/// checked from the shared journal and from the BMCs' own logs.
@Suite(.serialized)
struct ScaleOutTests {
    /// A fresh database with `shards` registered as alive for 180 s, as if they had been running: each one's first
    /// pass then takes an even share rather than the first to start taking every rack. A reconciler's own
    /// heartbeat replaces its row's expiry with its TTL, so the long registration only reserves the share of one
    /// that starts late on a loaded machine (the kill test starts s0 after s1 and s2 serve), never delays a
    /// takeover.
    static func database(shards: Int) async throws -> (url: String, reader: PostgresStateStore) {
        let url = try await PostgresServer.shared.newDatabase()
        let location = try PostgresLocation(parsing: url)
        for index in 0..<shards {
            let store = try await PostgresStateStore.connect(location, shard: "s\(index)")
            _ = try await store.heartbeat(address: nil, ttl: .seconds(180))
            store.close()
        }
        return (url, try await PostgresStateStore.connect(location))
    }

    /// Waits until s0, which serves the first hop (the per-MAC script the firmware reads at the site's address),
    /// is a member: a reconciler publishes its address only once its boot server answers there. Another reconciler
    /// that power-cycles a node before then sends it to a firmware that finds no boot entry and boots from disk;
    /// the install then waits out its timeout and the retry powers the node on a second time (the intermittent
    /// double power-on of session 5).
    static func nodesCanBoot(_ lab: LoopbackLab, _ reader: PostgresStateStore) async throws -> Bool {
        try await areMembers([0], lab, reader)
    }

    /// Waits until each of `shards` is a member with its address: its boot server answers.
    static func areMembers(_ shards: [Int], _ lab: LoopbackLab, _ reader: PostgresStateStore) async throws -> Bool {
        try await eventually(60) {
            let members = try await reader.members()
            return shards.allSatisfy { index in
                members.contains { $0.shard == "s\(index)" && $0.address == lab.shardBase(index) }
            }
        }
    }

    /// Each node's script names its rack's holder, with the other live members (in shard order after it) as the
    /// fallbacks; `shards` are the live ones by index. Waits for it: a taker rewrites at its next pass.
    static func entriesNameTheirHolders(_ lab: LoopbackLab, _ reader: PostgresStateStore, shards: [Int],
                                        nodes: [LoopbackLab.LabNode]? = nil) async throws -> Bool {
        try await eventually(30) {
            let holders = try await reader.rackHolders()
            return (nodes ?? lab.nodes).allSatisfy { node in
                guard let holder = holders[node.rack], let index = Int(holder.dropFirst()) else { return false }
                let others = shards.filter { $0 > index } + shards.filter { $0 < index }
                return lab.bootScript(node, names: lab.shardBase(index), fallbacks: others.map(lab.shardBase))
            }
        }
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

    /// Three reconcilers, each with its own DHCP server on the segment offering itself as the first hop; racks of
    /// two nodes, rolled out one at a time. The one at serverAddress (s0), first on the segment's list of DHCP
    /// servers, is killed while each rack's first install is in flight: the second wave, which boots after, finds no
    /// answer there and boots through a survivor's first hop; s0's orphaned install finishes through its fallback.
    @Test func killNineOfTheReconcilerAtServerAddressMidWaveNewBootsGoThroughTheOthers() async throws {
        let lab = try await LoopbackLab(nodes: 2, racks: 3, installTimeout: Self.installTimeout, holdInstalls: true)
        let (url, reader) = try await Self.database(shards: 3)
        // Every reconciler's DHCP server is on the segment, s0's first: the firmware takes the first that answers.
        try lab.setDHCPServers((0..<3).map(lab.dhcpServer))
        let consoles = [lab.consolePort, try freePort(), try freePort()]
        var processes: [LabProcess] = []
        defer {
            for process in processes { process.signal(SIGKILL) }
            reader.close()
            lab.tearDown()
        }
        // s1 and s2 first, then s0 once both serve: s0 writes its rack's entries with both as fallbacks (an install
        // keeps the list it booted with), and the others' nodes boot with s0 not yet answering.
        for index in 1..<3 {
            processes.append(try lab.startShard(index, state: url, console: consoles[index], log: "s\(index).log"))
        }
        #expect(try await Self.areMembers([1, 2], lab, reader), "\(processes.map { $0.output.suffix(6000) })")
        processes.insert(try lab.startShard(0, state: url, console: consoles[0], log: "s0.log"), at: 0)
        #expect(try await Self.areMembers([0], lab, reader), "\(Self.logs(processes))")
        // Each rack's first install is in flight (held in its post actions), each rack held by another reconciler.
        var firstWave: [LoopbackLab.LabNode] = []
        let inFlight = try await Self.eventually(180) {
            firstWave = lab.racks.compactMap { rack in lab.nodes.first { $0.rack == rack && lab.installStarted($0) } }
            return firstWave.count == lab.racks.count
        }
        #expect(inFlight, "\(lab.diagnostics(tail: 40))\n\(Self.logs(processes))")
        let secondWave = lab.nodes.filter { node in !firstWave.contains { $0.name == node.name } }
        let leases = try await reader.rackLeases()
        #expect(Set(leases.compactMap(\.holder)) == ["s0", "s1", "s2"], "\(leases)")
        // Each node booted from its rack's holder: its script (which the firmware ran) names the holder.
        #expect(try await Self.entriesNameTheirHolders(lab, reader, shards: [0, 1, 2], nodes: firstWave),
                "\(firstWave.map { lab.bootScript($0) })")
        let servers = try await reader.rackServers()
        #expect(lab.racks.allSatisfy { rack in
            leases.first { $0.rack == rack }?.holder.flatMap { Int($0.dropFirst()) }.map(lab.shardBase)
                == servers[rack]
        }, "\(servers)")
        // Kill the reconciler at serverAddress, first on the segment, and with it its DHCP server.
        let victimLease = try #require(leases.first { $0.holder == "s0" })
        processes[0].signal(SIGKILL)
        _ = await processes[0].wait(timeout: 10)
        let killed = Date()
        // The second wave waits for the first: nothing of it has powered on yet.
        #expect(secondWave.allSatisfy { lab.powerOns($0) == 0 }, "\(lab.diagnostics(tail: 20))")
        let orphan = try #require(firstWave.first { $0.rack == victimLease.rack })
        #expect(lab.console(orphan).contains("firmware: boot entry from \(lab.dhcpServer(0))"),
                "s0's node took s0's offer, the first on the segment: \(lab.console(orphan))")
        for node in lab.nodes where node.name != orphan.name { try lab.release(node) }

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
        // The taker rewrote the victim's rack's entries to name it, the install's token kept; the taker's own
        // boot server serves them, and the .torrent and tracker they name.
        let survivors = [1, 2]
        #expect(try await Self.entriesNameTheirHolders(lab, reader, shards: survivors, nodes: [orphan]),
                "\(lab.bootScript(orphan))\n\(Self.logs(processes))")
        let taker = try #require(try await reader.rackHolders()[victimLease.rack].flatMap { Int($0.dropFirst()) })
        let pxe = "01-" + orphan.mac.lowercased().replacingOccurrences(of: ":", with: "-")
        for path in ["ipxe/\(pxe)", "torrents/os@\(lab.imageVersion).torrent"] {
            let url = "\(lab.shardBase(taker))/\(path)"
            let fetched = await runCommand("/usr/bin/curl", ["-sf", "-o", "/dev/null", url])
            #expect(fetched.status == 0, "the taker serves \(path)")
        }
        // Now the orphan's install finishes: its kernel arguments still name the victim.
        try lab.release(orphan)
        let converged = try await Self.eventually(240) {
            try await reader.nodeRecords().values.filter { $0.status.phase == .ready }.count == lab.nodes.count
        }
        #expect(converged, "\(lab.diagnostics(tail: 40))\n\(Self.logs(processes))")
        // The orphan took its last reports to a survivor (its entry's fallback), which recorded them: the store
        // says who received each node's latest report. Every other node reported to a survivor too.
        let reports = try await reader.installProgress()
        let survivorNames = Set(survivors.map { "s\($0)" })
        #expect(reports[orphan.name]?.report.phase == .rebooting
                    && survivorNames.contains(reports[orphan.name]?.receivedBy ?? ""), "\(reports[orphan.name] as Any)")
        #expect(lab.console(orphan).contains("reporting to the next reconciler"), "\(lab.console(orphan))")
        for node in lab.nodes {
            #expect(survivorNames.contains(reports[node.name]?.receivedBy ?? ""),
                    "\(node.name): \(reports[node.name] as Any)")
        }
        // The first hop: every node that booted after the kill found no answer at s0's address and took a
        // survivor's offer, whose boot server handed it its rack's entry.
        for node in secondWave {
            let console = lab.console(node)
            #expect(console.contains("firmware: no answer from \(lab.dhcpServer(0))")
                        && survivors.contains { console.contains("firmware: boot entry from \(lab.dhcpServer($0))") }
                        && console.contains("install kernel with"), "\(node.name): \(console)")
        }
        // Any reconciler's console and /metrics show the whole site, who holds which rack and where it serves
        // them: a survivor's, which holds one rack (or two), shows all three.
        let holders = try await reader.rackHolders()
        #expect(Set(holders.keys) == Set(lab.racks) && !holders.values.contains("s0"), "\(holders)")
        let base = "http://127.0.0.1:\(consoles[survivors[0]])"
        let metrics = await runCommand("/usr/bin/curl", ["-sf", base + "/metrics"]).output
        let page = await runCommand("/usr/bin/curl", ["-sf", base + "/console"]).output
        for (rack, holder) in holders {
            let server = lab.shardBase(Int(holder.dropFirst()) ?? -1)
            let series = "rackswarm_rack_lease{rack=\"\(rack)\",holder=\"\(holder)\",server=\"\(server)\"} 1"
            #expect(metrics.contains(series), "\(metrics)")
            #expect(page.contains("held by reconciler \(holder) at \(server)"), "\(rack)")
        }
        #expect(lab.nodes.allSatisfy { page.contains("data-node=\"\($0.name)\"") }, "every node, whoever holds it")
        for process in processes.dropFirst() {
            process.signal(SIGTERM)
            _ = await process.wait(timeout: 60)
        }
        try await Self.expectConvergedOnce(lab, reader, logs: Self.logs(processes))
        print("scale-out: rack \(victimLease.rack) of s0 taken \(takenAfter ?? -1) s after kill -9")
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
        #expect(try await Self.nodesCanBoot(lab, reader), "\(Self.logs(processes))")
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
        // Its rack's install reported to it first (its entry names it); it could not record the reports, so the
        // installer took them to s0, its fallback.
        let cutNode = try #require(lab.nodes.first { $0.rack == cutRack.rack })
        let cutReport = try await reader.installProgress(of: cutNode.name)
        #expect(cutReport?.report.phase == .rebooting && cutReport?.receivedBy == "s0",
                "\(cutReport as Any)\n\(Self.logs(processes))")
        #expect(lab.console(cutNode).contains("trying the next reconciler")
                || lab.console(cutNode).contains("reporting to the next reconciler"), "\(lab.console(cutNode))")
        for process in processes {
            process.signal(SIGTERM)
            _ = await process.wait(timeout: 60)
        }
        try await Self.expectConvergedOnce(lab, reader, logs: Self.logs(processes))
    }
}
