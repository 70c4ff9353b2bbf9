import Drivers
import Foundation
import LabSupport
import Logging
import Reconciler
import Testing

/// The reconciler's services pass against real agents installing real RPMs with dnf: the planner's service
/// actions travel as the paper's service requests, drift becomes a plan action, removal uninstalls in reverse.
@Suite(.serialized)
struct ServiceReconcilerDNFTests {
    static func site(repository: String, services: [String: [String]]) throws -> (DesiredState, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rs-svc-site-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let nodes = services.sorted(by: { $0.key < $1.key }).enumerated().map { index, entry in
            LabSiteNode(name: entry.key, mac: "52:54:00:09:00:1\(index)", ip: "10.9.0.1\(index)",
                        bmcPort: 9100 + 10 * index, services: entry.value)
        }
        let text = LabSite.yaml(name: "lab", subnet: "10.9.0.0/24", server: "10.9.0.1",
                                documents: PackageLab.imageAndVODDocuments(repository: repository), nodes: nodes)
        try text.write(to: directory.appendingPathComponent("site.yaml"), atomically: true, encoding: .utf8)
        let result = SiteLoader.load(path: directory.path)
        return (try #require(result.state, "\(result.renderDiagnostics())"), directory)
    }

    @Test func convergesInstallsRepairsDriftAndUninstallsInReverse() async throws {
        let repository = try await PackageLab.repository()
        let nodes = [try LabNode("svc-a"), try LabNode("svc-b")]
        var agents: [RunningAgent] = []
        let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("rs-svc-\(UUID().uuidString)")
        var siteDirectory: URL?
        defer {
            agents.forEach { $0.stop() }
            nodes.forEach { $0.cleanUp() }
            try? FileManager.default.removeItem(at: storeDirectory)
            if let siteDirectory { try? FileManager.default.removeItem(at: siteDirectory) }
        }
        for node in nodes { agents.append(try await RunningAgent.start(node.agent())) }
        let clients = Dictionary(uniqueKeysWithValues: zip(nodes.map(\.name), agents.map { $0.client() }))
        let fallback = agents[0].client()
        let store = try SQLiteStateStore(path: storeDirectory.appendingPathComponent("state.db").path)
        func pass(_ desired: DesiredState) async throws -> ServiceReconciler.PassResult {
            let reconciler = ServiceReconciler(
                desired: desired, store: store, agents: { node in clients[node.name] ?? fallback },
                logger: Logger(label: "test.services"))
            return try await reconciler.converge(commit: "test")
        }

        var (desired, directory) = try Self.site(repository: repository, services: ["svc-a": ["vod"], "svc-b": ["vod"]])
        siteDirectory = directory
        let first = try await pass(desired)
        #expect(first.failed.isEmpty && first.unreachable.isEmpty, "\(first.failed) \(first.unreachable)")
        #expect(first.plan.summary.serviceChanges == 2)
        for node in nodes {
            let installs = await node.history().filter { $0.action == "Install" }.map(\.package)
            #expect(installs.firstIndex { $0.hasPrefix("std_cd") } ?? 99 < installs.firstIndex { $0.hasPrefix("std_cs") } ?? -1,
                    "std_cd before std_cs on \(node.name): \(installs)")
        }
        #expect(try await store.journal(node: nil).allSatisfy { $0.state == .finished })
        #expect(try await pass(desired).plan.isEmpty, "converged: nothing to do")

        // mediaServer dies on svc-a: the next pass sees the drift and repairs it.
        let status = try await agents[0].client().status(ServiceDefinition(try #require(desired.service(named: "vod"))),
                                                         on: "svc-a")
        let pids = status.report?.software.first { $0.process == "mediaServer" }?.pids ?? []
        try #require(!pids.isEmpty)
        pids.forEach { kill($0, SIGKILL) }
        #expect(await processesExit(pids), "mediaServer outlived SIGKILL")
        let repair = try await pass(desired)
        #expect(repair.plan.changes == ["svc-a": .services])
        #expect(repair.plan.actions.contains { $0.kind == .installService && $0.detail.contains("drift") })
        #expect(repair.failed.isEmpty)
        let healthy = try await agents[0].client().status(ServiceDefinition(try #require(desired.service(named: "vod"))),
                                                          on: "svc-a")
        #expect(healthy.code == .ok)

        // The repo drops vod from svc-b: uninstalled, std_cs before std_cd.
        (desired, directory) = try Self.site(repository: repository, services: ["svc-a": ["vod"], "svc-b": []])
        try? FileManager.default.removeItem(at: directory)
        let removal = try await pass(desired)
        #expect(removal.plan.actions.map(\.kind) == [.uninstallService])
        #expect(removal.failed.isEmpty, "\(removal.failed)")
        let erased = await nodes[1].history().filter { $0.action.hasPrefix("Remove") || $0.action.hasPrefix("Erase") }
            .map(\.package)
        #expect(erased.firstIndex { $0.hasPrefix("std_cs") } ?? 99 < erased.firstIndex { $0.hasPrefix("std_cd") } ?? -1,
                "reverse order: \(erased)")
        #expect(await nodes[1].installedPackages()?.contains { $0.hasPrefix("std_") } == false)
    }
}
