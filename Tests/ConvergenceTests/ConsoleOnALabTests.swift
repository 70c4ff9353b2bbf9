import Foundation
import LabSupport
import Testing

/// The console beside a real convergence: `reconcile console` reads the state database that `reconcile apply`
/// writes while it converges the loopback lab, and its API follows the nodes from nothing to ready.
@Suite(.serialized)
struct ConsoleOnALabTests {
    /// GETs a console URL with curl; the decoded JSON object, or nil when the console does not answer yet.
    static func get(_ url: String) async throws -> [String: Any]? {
        let fetched = await runCommand("/usr/bin/curl", ["-sf", "--max-time", "5", url], timeout: 10)
        guard fetched.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(fetched.output.utf8)) as? [String: Any]
    }

    @Test func theConsoleFollowsAConvergenceFromNothingToReady() async throws {
        let lab = try await LoopbackLab()
        defer { lab.tearDown() }
        let port = try freePort()
        let base = "http://127.0.0.1:\(port)"
        let console = try LabProcess(
            lab.binaries + "/reconcile",
            ["console", "--repo", "file://" + lab.repo, "--path", "site", "--cache", lab.root + "/console-cache",
             "--state", lab.statePath, "--listen", "127.0.0.1:\(port)", "--refresh", "1"],
            outputFile: lab.root + "/console.log")
        defer {
            console.signal(SIGKILL)
            var raw: Int32 = 0
            _ = waitpid(console.pid, &raw, 0)
        }
        var ready = false
        for _ in 0..<600 where !ready {
            ready = try await Self.get(base + "/api/v1/site") != nil
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "the console never answered: \(console.output)")

        let apply = try lab.startApply(log: "apply.log")
        let started = Date()
        var phases: [String: Set<String>] = [:]
        var firstETA: (at: Date, seconds: Double)?
        var lastDownloadingAt: Date?
        var status: Int32?
        while status == nil {
            status = await apply.waitBriefly()
            guard let site = try await Self.get(base + "/api/v1/site") else { continue }
            for rack in site["racks"] as? [[String: Any]] ?? [] {
                for cell in rack["nodes"] as? [[String: Any]] ?? [] {
                    guard let node = cell["node"] as? String, let phase = cell["phase"] as? String else { continue }
                    phases[node, default: []].insert(phase)
                    if phase == "downloading" { lastDownloadingAt = Date() }
                }
            }
            let convergence = site["convergence"] as? [String: Any]
            if firstETA == nil, let eta = (convergence?["etaSeconds"] as? NSNumber)?.doubleValue, eta > 0 {
                firstETA = (Date(), eta)
            }
            if Date().timeIntervalSince(started) > 300 { apply.signal(SIGKILL) }
        }
        #expect(status == 0, "\(apply.output)\n\(lab.diagnostics())")

        // At the end every node is ready and nothing is left to install.
        let site = try #require(try await Self.get(base + "/api/v1/site"))
        #expect((site["counts"] as? [String: Int])?["ready"] == lab.nodes.count, "\(site)")
        #expect(((site["convergence"] as? [String: Any])?["nodesToInstall"] as? Int) == 0)
        // While it ran, the console showed the nodes in flight, not only before and after.
        let inFlight: Set<String> = ["planned", "powering", "pxe", "downloading", "installing", "services"]
        for node in lab.nodes {
            #expect(!(phases[node.name] ?? []).isDisjoint(with: inFlight),
                    "\(node.name) was seen only as \(phases[node.name] ?? [])")
        }
        // The swarm page's figures add up to what the nodes downloaded.
        let swarm = try #require(try await Self.get(base + "/api/v1/swarm"))
        let image = try #require((swarm["images"] as? [[String: Any]])?.first)
        let seed = (image["fromSeed"] as? NSNumber)?.int64Value ?? -1
        let peers = (image["fromPeers"] as? NSNumber)?.int64Value ?? -1
        let size = Int64(lab.image?.count ?? 0)
        #expect(seed + peers == Int64(lab.nodes.count) * size, "seed \(seed) + peers \(peers)")
        // A figure, not an assertion: how the first ETA compared with when the downloads ended.
        if let firstETA, let lastDownloadingAt {
            print("console on a lab: first ETA \(String(format: "%.1f", firstETA.seconds)) s; downloads ended "
                  + "\(String(format: "%.1f", lastDownloadingAt.timeIntervalSince(firstETA.at))) s later; "
                  + "seed \(seed) B, peers \(peers) B; phases seen \(phases.mapValues { $0.sorted() })")
        } else {
            print("console on a lab: no ETA sampled (downloads too short to measure a rate); "
                  + "seed \(seed) B, peers \(peers) B; phases seen \(phases.mapValues { $0.sorted() })")
        }
    }
}

extension LabProcess {
    /// The exit status once the process has ended (reaping it), else nil after a 250 ms pause. Use it instead of
    /// `wait`, not with it.
    func waitBriefly() async -> Int32? {
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid {
            let signal = raw & 0x7f
            return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        }
        try? await Task.sleep(for: .milliseconds(250))
        return nil
    }
}
