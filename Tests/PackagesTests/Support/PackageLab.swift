import Drivers
import Foundation
import LabSupport
import Logging
import NIOCore
import Testing

/// Real peers for the agent tests: RPMs built with rpmbuild, a createrepo_c repository, and per-node install
/// roots that real dnf installs into, offline.
enum PackageLab {
    static let key = SiteKey(bytes: Array("package-lab-site-key-0123456789".utf8))!
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The VOD service of the paper's Figure 5 (std_cd then std_cs), with the lab repository.
    static func vod(repository: String) -> ServiceDefinition {
        vod(arch: "noarch", RepositoryEntry(name: "lab", baseurl: "file://\(repository)"))
    }

    /// The VOD service with RPMs built for `arch`, from `repository`.
    static func vod(arch: String, _ repository: RepositoryEntry) -> ServiceDefinition {
        ServiceDefinition(
            name: "VOD",
            software: [
                SoftwareEntry(name: "cs#1", rpm: "std_cs-1.0-1.\(arch).rpm", order: 2, script: "/etc/init.d/cs",
                              process: "mediaServer"),
                SoftwareEntry(name: "cd#1", rpm: "std_cd-1.0-1.\(arch).rpm", order: 1),
            ],
            repositories: [repository])
    }

    /// The same VOD service as site YAML, after an image `os` for its nodes: the documents a test site shares.
    static func imageAndVODDocuments(repository: String) -> String {
        """
        apiVersion: rackswarm.io/v1
        kind: Image
        metadata: {name: os}
        spec: {version: "1", file: os.img, sha256: "\(String(repeating: "a", count: 64))", kernel: k, initrd: i}
        ---
        apiVersion: rackswarm.io/v1
        kind: Service
        metadata: {name: vod}
        spec:
          repositories: [{name: lab, baseurl: "file://\(repository)"}]
          software:
            - {name: "cs#1", rpm: std_cs-1.0-1.noarch.rpm, order: 2, script: /etc/init.d/cs, process: mediaServer}
            - {name: "cd#1", rpm: std_cd-1.0-1.noarch.rpm, order: 1}

        """
    }

    /// The WEB service: the httpd stand-in.
    static func web(repository: String) -> ServiceDefinition {
        ServiceDefinition(
            name: "WEB",
            software: [SoftwareEntry(name: "apache#1", rpm: "httpd-2.2.9-1.noarch.rpm", order: 1,
                                     script: "/etc/init.d/httpd", process: "httpd")],
            repositories: [RepositoryEntry(name: "lab", baseurl: "file://\(repository)")])
    }

    /// Builds the repository once per test process.
    static func repository() async throws -> String {
        try await RepositoryBuilder.shared.path()
    }

    /// Serves `receiver` as the reconciler's heartbeat listener on a free loopback port; returns the server's task
    /// (cancel it when done) and the port.
    static func serveHeartbeats(to receiver: HeartbeatReceiver) async throws -> (Task<Void, any Error>, Int) {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = ServiceAgentServer(
            address: AgentAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test.heartbeats")
        ) { await receiver.answer($0) }
        let task = Task { try await server.run { continuation.yield($0) } }
        var portIterator = ports.makeAsyncIterator()
        guard let port = await portIterator.next() else {
            task.cancel()
            throw LabError("the heartbeat receiver did not start")
        }
        return (task, port)
    }

    /// Runs a command to completion, returning its status and combined output.
    @discardableResult
    static func shell(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async
        -> CommandResult
    {
        let result = await runCommand(executable, arguments, environment: environment, timeout: 120,
                                      separateErrors: true)
        return CommandResult(status: result.status, signaled: result.signaled, timedOut: result.timedOut,
                             output: result.output, errorOutput: result.errorOutput)
    }
}

/// Builds the lab repository with `Fixtures/make-repo.sh` (rpmbuild + createrepo_c) exactly once.
actor RepositoryBuilder {
    static let shared = RepositoryBuilder()
    private var building: Task<String, any Error>?

    func path() async throws -> String {
        if let building { return try await building.value }
        let task = Task { try await Self.build() }
        building = task
        return try await task.value
    }

    private static func build() async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rs-pkglab-\(getpid())-\(UUID().uuidString.prefix(8))").path
        labRepositoryDirectory = directory
        atexit { if let directory = labRepositoryDirectory { try? FileManager.default.removeItem(atPath: directory) } }
        let script = PackageLab.fixtures.appendingPathComponent("make-repo.sh").path
        let result = await PackageLab.shell("/bin/bash", [script, directory])
        try #require(result.succeeded, "make-repo.sh failed: \(result.output)")
        return "\(directory)/repo"
    }
}

nonisolated(unsafe) private var labRepositoryDirectory: String?

/// One lab node: an install root, a HOME whose `.rpmmacros` pins the RPM database at /var/lib/rpm, and an agent
/// state directory. `cleanUp()` kills every process started from inside it and removes it.
final class LabNode: Sendable {
    let name: String
    let directory: String
    var root: String { "\(directory)/root" }
    var home: String { "\(directory)/home" }
    var state: String { "\(directory)/state" }
    var environment: [String: String] { ["HOME": home] }

    init(_ name: String) throws {
        self.name = name
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rs-node-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))").path
        for sub in ["root", "home", "state"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        try "%_dbpath /var/lib/rpm\n".write(toFile: "\(home)/.rpmmacros", atomically: true, encoding: .utf8)
    }

    /// An installer for this node's root.
    func installer(packageManager: String = "dnf") -> DNFInstaller {
        DNFInstaller(
            configuration: .init(packageManager: packageManager, installRoot: root, releaseVersion: "1",
                                 skipGPGCheck: true, environment: environment),
            logger: Logger(label: "lab.\(name)"))
    }

    /// An in-process agent for this node.
    func agent(packageManager: String = "dnf", key: SiteKey = PackageLab.key) -> ProvisioningAgent {
        ProvisioningAgent(
            configuration: .init(node: name, installRoot: root, stateDirectory: state,
                                 processStartTimeout: .seconds(5), settleTime: .milliseconds(700)),
            key: key, installer: installer(packageManager: packageManager),
            processes: LinuxProcessTable(installRoot: root), logger: Logger(label: "lab.\(name)"))
    }

    /// `rpm -qa` in the root: name-version-release.arch, sorted; nil when rpm fails (a broken database).
    func installedPackages() async -> [String]? {
        let result = await PackageLab.shell(
            "/usr/bin/rpm", ["--root", root, "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"],
            environment: environment)
        guard result.succeeded else { return nil }
        return result.output.split(separator: "\n").map(String.init).sorted()
    }

    /// True when `dnf check` finds the RPM database consistent (no missing dependencies, no duplicates).
    func databaseIsConsistent() async -> Bool {
        await dnf(["check"]).succeeded
    }

    /// dnf's history in this root, oldest first: (action, package) for every package of every transaction.
    func history() async -> [(action: String, package: String)] {
        let list = await dnf(["-q", "history", "list"])
        let ids = list.output.split(separator: "\n").compactMap { line in
            Int(line.split(separator: "|").first?.trimmingCharacters(in: .whitespaces) ?? "")
        }.sorted()
        var out: [(String, String)] = []
        for id in ids {
            let info = await dnf(["-q", "history", "info", "\(id)"])
            var inAltered = false
            for line in info.output.split(separator: "\n") {
                if line.hasPrefix("Packages Altered:") {
                    inAltered = true
                    continue
                }
                guard inAltered else { continue }
                let words = line.split(separator: " ")
                guard words.count >= 2, line.hasPrefix("  ") else {
                    inAltered = false
                    continue
                }
                out.append((String(words[0]), String(words[1])))
            }
        }
        return out
    }

    func dnf(_ arguments: [String]) async -> CommandResult {
        await PackageLab.shell(
            "/usr/bin/dnf", ["--installroot=\(root)", "--releasever=1", "--setopt=reposdir=/dev/null"] + arguments,
            environment: environment)
    }

    /// PIDs of processes started from inside this node's directory, or chrooted into its root (scriptlets).
    func processes() -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap(Int32.init).filter { pid in
            if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: data, as: UTF8.self).contains(directory)
            {
                return true
            }
            return chrooted(pid)
        }
    }

    /// True when the process's root directory is this node's install root (rpm scriptlets run so).
    func chrooted(_ pid: Int32) -> Bool {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root")) == root
    }

    /// Kills every process started from inside the node and deletes the node's files.
    func cleanUp() {
        for _ in 0..<3 {
            let pids = processes()
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(100_000)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// An agent served on 127.0.0.1 for the length of a test.
struct RunningAgent {
    let port: Int
    let task: Task<Void, any Error>
    var address: AgentAddress { AgentAddress(host: "127.0.0.1", port: port) }

    static func start(_ agent: ProvisioningAgent, idleTimeout: TimeAmount = .seconds(60)) async throws -> RunningAgent {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = ServiceAgentServer(
            address: AgentAddress(host: "127.0.0.1", port: 0), agent: agent, idleTimeout: idleTimeout,
            logger: Logger(label: "lab.server"))
        let task = Task { try await server.run { continuation.yield($0) } }
        var iterator = stream.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return RunningAgent(port: port, task: task)
    }

    func client(key: SiteKey = PackageLab.key) -> ServiceAgentClient {
        ServiceAgentClient(address: address, key: key, timeout: .seconds(120), logger: Logger(label: "lab.client"))
    }

    func stop() { task.cancel() }
}

/// A lab node with its agent served and the lab repository, for the length of a test: `stop()` stops the agent
/// and removes the node.
struct ServedNode {
    let node: LabNode
    let agent: RunningAgent
    let repository: String
    /// The VOD service from the lab repository.
    var vod: ServiceDefinition { PackageLab.vod(repository: repository) }

    static func start(_ name: String, key: SiteKey = PackageLab.key) async throws -> ServedNode {
        let repository = try await PackageLab.repository()
        let node = try LabNode(name)
        do {
            return ServedNode(node: node, agent: try await RunningAgent.start(node.agent(key: key)),
                              repository: repository)
        } catch {
            node.cleanUp()
            throw error
        }
    }

    func stop() {
        agent.stop()
        node.cleanUp()
    }
}
