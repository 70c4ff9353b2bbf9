import Console
import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// Paths of the repo, found from this source file.
enum Repo {
    static let root = URL(fileURLWithPath: packageRoot)
    static let examples = root.appendingPathComponent("examples/datacenter")
}

/// What a hostile YAML author or agent might write: it must come out of every page as text.
let hostile = "<script>alert(1)</script>"

/// A site made by the test: the example data center plus a third rack, with hostile text in a node label, a
/// service description, the commit message and an agent's error. Committed to a git repo; removed on deinit.
final class ConsoleTestSite: @unchecked Sendable {
    private let temporary: TemporaryDirectory
    let root: URL
    var repo: String { root.appendingPathComponent("repo").path }
    var cache: String { root.appendingPathComponent("cache").path }
    var statePath: String { root.appendingPathComponent("state.db").path }
    private(set) var commit = ""

    /// The phase each seeded node ends in; one node per phase `NodeActivity` can show.
    static let phases: [String: NodeActivity.Phase] = [
        "r1n1": .ready, "r1n2": .downloading, "r1n3": .installing, "r1n4": .services,
        "r2n1": .planned, "r2n2": .powering, "r2n3": .pxe, "r2n4": .stalled,
        "r3n1": .failed, "r3n2": .decommissioned, "r3n3": .unknown,
    ]

    static let image = "debian-12@12.15"
    static let imageSize: Int64 = 64 << 20

    init() async throws {
        temporary = try TemporaryDirectory("rackswarm-console")
        root = URL(fileURLWithPath: temporary.path)
        try FileManager.default.copyItem(at: Repo.examples, to: root.appendingPathComponent("repo"))
        try edit("racks/r1.yaml", replacing: "  labels: {role: web}\nspec:\n  rack: r1\n  mac: \"52:54:00:77:01:01\"",
                 with: "  labels: {role: web, note: \"\(hostile)\"}\nspec:\n  rack: r1\n  mac: \"52:54:00:77:01:01\"")
        try edit("services/vod.yaml", replacing: "description: Video on demand",
                 with: "description: \"Video on demand \(hostile)\"")
        try Self.rackThree.write(to: root.appendingPathComponent("repo/racks/r3.yaml"), atomically: true,
                                 encoding: .utf8)
        try await git("init", "-q", "-b", "main")
        try await git("add", "-A")
        try await git("commit", "-q", "-m", "Add rack r3 \(hostile)")
        commit = try await git("rev-parse", "HEAD")
    }

    /// Loads the committed site from the repo, as `reconcile` does.
    func load() throws -> ConsoleSite {
        let checkout = try SiteSource(repo: repo, ref: "main", cacheRoot: cache).checkout()
        let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
        let desired = try #require(result.state, "the test site does not load: \(result.renderDiagnostics())")
        return ConsoleSite(
            desired: desired,
            commit: checkout.commit.map { CommitInfo(sha: $0, author: checkout.author, message: checkout.summary) },
            directory: checkout.directory)
    }

    /// Seeds `store` so each node of `phases` shows its phase, with install reports (and their history) for the
    /// swarm page, and an agent error holding hostile text.
    static func seed(_ store: any StateStore, now: Date = Date()) async throws {
        func action(_ node: String, _ rack: String, _ kind: PlannedAction.Kind, wave: Int = 1,
                    destructive: Bool = false) -> PlannedAction {
            PlannedAction(node: node, rack: rack, wave: wave, kind: kind, destructive: destructive,
                          detail: "\(kind.rawValue) for \(node)")
        }
        let earlier = now.addingTimeInterval(-300)
        // ready: installed, with its service, the whole lifecycle finished.
        try await store.record(NodeStatus(phase: .ready, image: image, services: ["web"], rack: "r1"), lastError: nil,
                               for: "r1n1", at: earlier)
        let done = try await store.journalPlanned(
            [action("r1n1", "r1", .powerCycle, destructive: true),
             action("r1n1", "r1", .installImage, destructive: true), action("r1n1", "r1", .installService)],
            commit: "abc", at: earlier)
        for id in done {
            try await store.journalStarted(id, at: earlier)
            try await store.journalFinished(id, at: earlier.addingTimeInterval(60))
        }
        // Started steps: powering, pxe, downloading, installing, services.
        let running: [(String, String, PlannedAction.Kind)] = [
            ("r2n2", "r2", .powerCycle), ("r2n3", "r2", .writeBootEntry), ("r1n2", "r1", .installImage),
            ("r1n3", "r1", .installImage), ("r1n4", "r1", .installService),
        ]
        for (node, rack, kind) in running {
            try await store.record(NodeStatus(phase: .provisioning, rack: rack), lastError: nil, for: node, at: earlier)
            let ids = try await store.journalPlanned([action(node, rack, kind, destructive: kind == .powerCycle)],
                                                     commit: "abc", at: earlier)
            try await store.journalStarted(ids[0], at: earlier.addingTimeInterval(1))
        }
        // planned: journaled, not started.
        _ = try await store.journalPlanned([action("r2n1", "r2", .writeBootEntry, wave: 2)], commit: "abc", at: now)
        // stalled: a step failed with an agent's error.
        try await store.record(NodeStatus(phase: .provisioning, rack: "r2"), lastError: nil, for: "r2n4", at: earlier)
        let stalled = try await store.journalPlanned([action("r2n4", "r2", .installService)], commit: "abc",
                                                     at: earlier)
        try await store.journalStarted(stalled[0], at: earlier)
        try await store.journalFailed(stalled[0], error: "agent: dnf failed \(hostile)",
                                      at: earlier.addingTimeInterval(5))
        // failed and decommissioned, from the stored status.
        try await store.record(NodeStatus(phase: .failed, rack: "r3"), lastError: "BMC refused the password",
                               for: "r3n1", at: earlier)
        try await store.record(NodeStatus(phase: .decommissioned, rack: "r3"), lastError: nil, for: "r3n2", at: earlier)

        // Install reports: r1n1 finished (and uploaded), r1n2 downloading with a history, r1n3 written.
        // r1n1's install environment reported its hardware with `booted`.
        try await store.recordInstall(
            InstallReport(phase: .booted, image: image, hardware: HardwareInventory(
                cpus: 16, cpuModel: "Xeon", memoryBytes: 64 << 30,
                disks: [.init(name: "nvme0n1", bytes: 960 << 30, model: "PM983", serial: "S4EMNX0R")],
                nics: [.init(name: "eth0", mac: "52:54:00:77:01:01", link: "up", speedMbps: 25000,
                             driver: "mlx5_core")])),
            for: "r1n1", at: now.addingTimeInterval(-300))
        try await store.recordInstall(
            InstallReport(phase: .rebooting, image: image, percent: 100, downloaded: imageSize, uploaded: 48 << 20,
                          fromSeed: imageSize, uploadStartedAtPercent: 12.5),
            for: "r1n1", at: now.addingTimeInterval(-200))
        for (seconds, percent) in [(-100.0, 10.0), (-60, 25), (-20, 42)] {
            let downloaded = Int64(Double(imageSize) * percent / 100)
            try await store.recordInstall(
                InstallReport(phase: .downloading, image: image, percent: percent, downloaded: downloaded,
                              uploaded: downloaded / 4, fromSeed: downloaded / 8, uploadStartedAtPercent: 6.25),
                for: "r1n2", at: now.addingTimeInterval(seconds))
        }
        try await store.recordInstall(
            InstallReport(phase: .written, image: image, percent: 100, downloaded: imageSize, uploaded: 8 << 20,
                          fromSeed: 16 << 20, uploadStartedAtPercent: 25),
            for: "r1n3", at: now.addingTimeInterval(-30))
    }

    @discardableResult
    func git(_ arguments: String...) async throws -> String {
        try await LabSupport.git(in: repo, author: "Ada Operator", email: "ada@example.com", arguments)
    }

    private func edit(_ file: String, replacing old: String, with new: String) throws {
        let url = root.appendingPathComponent("repo").appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        guard text.contains(old) else { throw ConsoleTestError("\(file) no longer contains \(old)") }
        try text.replacingOccurrences(of: old, with: new).write(to: url, atomically: true, encoding: .utf8)
    }

    static let rackThree = """
        apiVersion: rackswarm.io/v1
        kind: Rack
        metadata:
          name: r3
        spec:
          bmc:
            username: admin
            password: {env: RACKSWARM_TEST_R3_SECRET}
        ---
        apiVersion: rackswarm.io/v1
        kind: Node
        metadata:
          name: r3n1
        spec:
          rack: r3
          mac: "52:54:00:77:03:01"
          ip: 10.77.0.31
          bmc: {url: "redfish+https://10.99.0.31/redfish/v1/Systems/1"}
          image: debian-12
          services: [vod]
        ---
        apiVersion: rackswarm.io/v1
        kind: Node
        metadata:
          name: r3n2
        spec:
          rack: r3
          mac: "52:54:00:77:03:02"
          ip: 10.77.0.32
          bmc: {url: "ipmi://10.99.0.32:6230"}
          image: debian-12
          services: []
        ---
        apiVersion: rackswarm.io/v1
        kind: Node
        metadata:
          name: r3n3
        spec:
          rack: r3
          mac: "52:54:00:77:03:03"
          ip: 10.77.0.33
          bmc: {url: "ipmi://10.99.0.33"}
          image: debian-12
          services: []

        """
}

/// A data source over a loaded site and a store, for handler tests; r1n1's BMC reported it on.
struct FixedSource: ConsoleDataSource {
    let loaded: ConsoleSite
    let store: any StateStore

    func site() async throws -> ConsoleSite { loaded }

    func powerState(node: String) async -> String? { node == "r1n1" ? "on (BMC)" : nil }
}

struct ConsoleTestError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
