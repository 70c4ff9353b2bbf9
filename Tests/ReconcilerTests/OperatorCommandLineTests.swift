import Foundation
import LabSupport
import Reconciler
import Testing

/// The operator's command line as an operator meets it: the built `reconcile` binary, a real state database, and
/// a real `reconcile console` server for the operator actions.
struct OperatorCommandLineTests {
    let site = Repo.examples.appendingPathComponent("datacenter").path

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "rs-operator-cli-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A new state database in a temporary directory (removed with the directory), and the example site loaded.
    func storeAndSite() throws -> (TemporaryDirectory, state: String, SQLiteStateStore, DesiredState) {
        let scratch = try TemporaryDirectory("rs-operator-cli")
        let state = scratch.path + "/state.db"
        return (scratch, state, try SQLiteStateStore(path: state), try #require(SiteLoader.load(path: site).state))
    }

    @Test func bareReconcilePrintsHelpAndAppliesNothing() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (status, stdout, _) = try await runProcess("/bin/sh",
                                                 ["-c", "cd '\(directory)' && '\(ValidateCommandTests.binary)'"])
        #expect(status == 0)
        #expect(stdout.contains("USAGE: reconcile <subcommand>"))
        #expect(stdout.contains("plan") && stdout.contains("apply"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/.rackswarm"), "bare reconcile touched state")
    }

    @Test func versionNamesTheReleaseAndTheCommit() async throws {
        let (status, stdout, _) = try await runProcess(ValidateCommandTests.binary, ["--version"])
        #expect(status == 0)
        #expect(stdout.range(of: #"^reconcile \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown)\)\n$"#,
                             options: .regularExpression) != nil, "\(stdout)")
    }

    @Test func planAndTheDryRunAliasPrintTheSamePlan() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let plan = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site, "--state", state, "-o", "json"])
        let alias = try await runProcess(ValidateCommandTests.binary,
                                   ["apply", "--dry-run", "--repo", site, "--state", state, "--output", "json"])
        #expect(plan.status == 2 && alias.status == 2)
        #expect(plan.stdout == alias.stdout && plan.stdout.contains("\"installImage\""))
        // --out-file holds exactly what standard output would.
        let file = directory + "/plan.json"
        let written = try await runProcess(ValidateCommandTests.binary,
                                     ["plan", "--repo", site, "--state", state, "-o", "json", "--out-file", file])
        #expect(written.status == 2 && written.stdout.isEmpty)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == plan.stdout)
    }

    /// `--out-file` naming something that is not a regular file (here a FIFO; `/dev/null` in the field) is written
    /// in place: replacing it by rename once turned the host's `/dev/null` into a plain file.
    @Test func outFileWritesIntoAFIFOWithoutReplacingIt() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/plan.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = Task.detached { () -> String in
            let descriptor = open(fifo, O_RDONLY)
            guard descriptor >= 0 else { return "open failed: \(errno)" }
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(descriptor, &chunk, chunk.count)
                if count <= 0 { break }
                bytes += chunk[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        let written = try await runProcess(ValidateCommandTests.binary, [
            "plan", "--repo", site, "--state", directory + "/state.db", "-o", "json", "--out-file", fifo,
        ])
        #expect(written.status == 2, "\(written.stderr)")
        #expect(await reader.value.contains("\"installImage\""))
        var status = stat()
        #expect(stat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO, "the FIFO was replaced")
    }

    @Test func applyWithoutATerminalRefusesADestructivePlanUnlessYes() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let (status, stdout, stderr) = try await runProcess(ValidateCommandTests.binary,
                                                      ["apply", "--repo", site, "--state", state])
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("destructive actions on 8 nodes"), "\(stderr)")
        #expect(stderr.contains("no terminal to confirm on; nothing was applied"))
        #expect(stderr.contains("reconcile apply --yes"))
        #expect(!FileManager.default.fileExists(atPath: state), "the refused apply created the state database")
    }

    @Test func statusOfOneNodeShowsItInDepth() async throws {
        let (scratch, state, store, desired) = try storeAndSite()
        defer { withExtendedLifetime(scratch) {} }
        let node = try #require(desired.node(named: "r1n1"))
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let actions = plan.actions.filter { $0.node == "r1n1" }
        let ids = try await store.journalPlanned(actions, commit: "0123456789abcdef", at: Date())
        try await store.journalStarted(ids[0], at: Date())
        try await store.journalFailed(ids[0], error: "BMC said no", at: Date())
        try await store.record(NodeStatus(phase: .failed, rack: node.rack.value), lastError: "BMC said no",
                               for: "r1n1", at: Date())
        let inventory = HardwareInventory(
            cpus: 4, memoryBytes: 8 << 30, disks: [.init(name: "sda", bytes: 480 << 30, model: "SSD", serial: "S1")],
            nics: [.init(name: "eth0", mac: "52:54:00:77:01:01", link: "up", speedMbps: 1000)])
        try await store.recordInstall(InstallReport(phase: .booted, image: "debian-12@12.15", hardware: inventory),
                                      for: "r1n1", at: Date(), receivedBy: "room-a-1")
        let (status, stdout, stderr) = try await runProcess(ValidateCommandTests.binary,
                                                      ["status", "r1n1", "--repo", site, "--state", state])
        #expect(status == 0, "\(stderr)")
        for line in ["Name:           r1n1", "Rack:           r1", "Phase:          failed",
                     "Last error:     BMC said no", "  Phase:        booted", "  Received by:  room-a-1\n",
                     "Hardware:\n  4 CPUs, 8.0 GiB memory\n"
                        + "  disk sda 480.0 GiB SSD serial S1\n  nic eth0 52:54:00:77:01:01 up 1000 Mb/s\n",
                     "Journal (newest \(actions.count) of "
                        + "\(actions.count)):"] {
            #expect(stdout.contains(line), "\(line) not in\n\(stdout)")
        }
        #expect(stdout.contains("failed    writeBootEntry   0123456789ab BMC said no"), "\(stdout)")
        let json = try await runProcess(ValidateCommandTests.binary,
                                  ["status", "r1n1", "--repo", site, "--state", state, "-o", "json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["lastError"] as? String == "BMC said no")
        #expect((document["install"] as? [String: Any])?["receivedBy"] as? String == "room-a-1")
        let hardware = try #require(document["hardware"] as? [String: Any])
        #expect((hardware["inventory"] as? [String: Any])?["cpus"] as? Int == 4)
        #expect((document["journal"] as? [Any])?.count == actions.count)
        let unknown = try await runProcess(ValidateCommandTests.binary, ["status", "r9n9", "--repo", site, "--state", state])
        #expect(unknown.status == 1 && unknown.stderr.contains("the site has no node 'r9n9'"))
    }

    @Test func storeBackupCopiesTheDatabaseOnline() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let store = try SQLiteStateStore(path: state)
        try await store.suspendRack("r2", actor: "ops", remote: nil, at: Date())
        // The store stays open (as a running reconciler's would) while the copy is taken.
        let (status, stdout, stderr) = try await runProcess(ValidateCommandTests.binary,
                                                      ["store", "backup", directory + "/copy.db", "--state", state])
        #expect(status == 0, "\(stderr)")
        #expect(stdout.contains("backed up"))
        let copy = try SQLiteStateStore(path: directory + "/copy.db")
        #expect(try await copy.suspendedRacks() == ["r2"])
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.contains("partial") }))
    }

    @Test func settingsComeFromFlagsThenEnvironmentThenTheFile() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/reconciler.yaml"
        try "# site settings\nstate: /from/file.db\nref: 'release'  # quoted\n".write(toFile: file, atomically: true,
                                                                                  encoding: .utf8)
        let fromFile = try await runProcess(ValidateCommandTests.binary, ["plan", "--help"],
                                      environment: ["RACKSWARM_CONFIG": file])
        #expect(fromFile.stdout.contains("(default: /from/file.db)") && fromFile.stdout.contains("(default: release)"),
                "\(fromFile.stdout)")
        // Every command that reads the state database takes the same default.
        for command in [["apply"], ["status"], ["console"], ["boot", "sync"], ["store", "prune"]] {
            let help = try await runProcess(ValidateCommandTests.binary, command + ["--help"],
                                      environment: ["RACKSWARM_CONFIG": file])
            let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(words.contains("(default: /from/file.db)"), "\(command): \(help.stdout)")
        }
        // The boot commands take dnsmasq's hosts file from the settings as `apply` does.
        let dnsmasq = try await runProcess(ValidateCommandTests.binary, ["boot", "dnsmasq-config", "--repo", site],
                                           environment: ["RACKSWARM_CONFIG": file,
                                                         "RACKSWARM_DNSMASQ_HOSTS": "/from/env-hosts"])
        #expect(dnsmasq.status == 0 && dnsmasq.stdout.contains("dhcp-hostsfile=/from/env-hosts\n"),
                "\(dnsmasq.stdout)\(dnsmasq.stderr)")
        let fromEnvironment = try await runProcess(ValidateCommandTests.binary, ["plan", "--help"],
                                             environment: ["RACKSWARM_CONFIG": file, "RACKSWARM_STATE": "/from/env.db"])
        #expect(fromEnvironment.stdout.contains("(default: /from/env.db)"))
        // A flag beats both: the plan reads the state database the flag names (none there: a first install).
        let state = directory + "/flag.db"
        let fromFlag = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site, "--state", state],
                                      environment: ["RACKSWARM_CONFIG": file, "RACKSWARM_STATE": "/from/env.db"])
        #expect(fromFlag.status == 2, "\(fromFlag.stderr)")
        // A bad file is a located error, and nothing runs.
        try "state: /x.db\nstat: typo\n".write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site],
                                 environment: ["RACKSWARM_CONFIG": file])
        #expect(bad.status == 1 && bad.stdout.isEmpty)
        #expect(bad.stderr.contains("\(file):2:1: error: unknown setting 'stat'"), "\(bad.stderr)")
        #expect(bad.stderr.contains("  stat: typo\n  ^"))
    }

    @Test func pruneKeepsEachNodesNewestEntriesAndDropsOldEndedOnes() async throws {
        let (scratch, state, store, desired) = try storeAndSite()
        defer { withExtendedLifetime(scratch) {} }
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let old = Date(timeIntervalSinceNow: -7200)
        let ids = try await store.journalPlanned(plan.actions, commit: "c1", at: old)
        for id in ids {
            try await store.journalStarted(id, at: old)
            try await store.journalFinished(id, at: old)
        }
        // One fresh entry, still planned: never pruned.
        let fresh = try await store.journalPlanned(Array(plan.actions.prefix(1)), commit: "c2", at: Date())
        let (status, stdout, stderr) = try await runProcess(
            ValidateCommandTests.binary, ["store", "prune", "--retention", "1h", "--keep", "2", "--state", state])
        #expect(status == 0, "\(stderr)")
        let left = try await store.journal(node: nil)
        let perNode = Dictionary(grouping: left, by: \.action.node).mapValues(\.count)
        #expect(perNode.values.allSatisfy { $0 == 2 }, "\(perNode)")
        #expect(left.contains { $0.id == fresh[0] })
        #expect(stdout.contains("pruned \(plan.actions.count + 1 - left.count) journal entries"), "\(stdout)")
    }

    @Test func pruneReadsTheSitesStoreRetention() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The example site, with `store: {retention: 1h}` in its spec.
        let copy = directory + "/site"
        try FileManager.default.copyItem(atPath: site, toPath: copy)
        let siteFile = copy + "/site.yaml"
        let text = try String(contentsOfFile: siteFile, encoding: .utf8)
        try text.replacingOccurrences(of: "  interval: 5m", with: "  interval: 5m\n  store:\n    retention: 1h")
            .write(toFile: siteFile, atomically: true, encoding: .utf8)
        let loaded = try #require(SiteLoader.load(path: copy).state)
        #expect(loaded.site.store.retention == .seconds(3600))

        let state = directory + "/state.db"
        let store = try SQLiteStateStore(path: state)
        let plan = Planner.plan(desired: loaded, observed: ObservedState())
        let old = Date(timeIntervalSinceNow: -7200)
        for id in try await store.journalPlanned(plan.actions, commit: "c1", at: old) {
            try await store.journalStarted(id, at: old)
            try await store.journalFinished(id, at: old)
        }
        // Without the site field, and without --retention: refused, nothing pruned.
        let refused = try await runProcess(ValidateCommandTests.binary, ["store", "prune", "--repo", site, "--state", state])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("no retention"), "\(refused.stderr)")
        #expect(try await store.journal(node: nil).count == plan.actions.count)
        // With it: the site's hour applies.
        let pruned = try await runProcess(ValidateCommandTests.binary,
                                    ["store", "prune", "--repo", copy, "--keep", "0", "--state", state])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("older than 1h"), "\(pruned.stdout)")
        #expect(try await store.journal(node: nil).isEmpty)

        // A malformed retention is a located error.
        try text.replacingOccurrences(of: "  interval: 5m",
                                      with: "  interval: 5m\n  store:\n    retention: 106751991167301d")
            .write(toFile: siteFile, atomically: true, encoding: .utf8)
        let bad = SiteLoader.load(path: copy)
        #expect(bad.state == nil)
        #expect(bad.diagnostics.contains { $0.message.contains("store.retention") && $0.location.line == 34 },
                "\(bad.diagnostics)")
    }

    /// Every command of both executables takes the one shared logging group (`--log-level`, `--log-format`):
    /// argument-parser's own dump of the command tree is walked, so a new command without it fails here.
    @Test(arguments: ["reconcile", "provision-agent"])
    func everyCommandTakesTheLoggingOptions(_ executable: String) async throws {
        let root = try await ValidateCommandTests.commandTree(of: executable)
        var leaves: [String: Set<String>] = [:]
        func walk(_ command: [String: Any], _ path: String) {
            let name = command["commandName"] as? String ?? "?"
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            let here = path.isEmpty ? name : path + " " + name
            if subcommands.isEmpty {
                let arguments = command["arguments"] as? [[String: Any]] ?? []
                leaves[here] = Set(arguments.compactMap { ($0["names"] as? [[String: Any]]) }.joined()
                    .compactMap { $0["name"] as? String })
            }
            // `help` is argument-parser's own; it runs nothing.
            for sub in subcommands where sub["commandName"] as? String != "help" { walk(sub, here) }
        }
        walk(try #require(root["command"] as? [String: Any]), "")
        #expect(leaves.count >= (executable == "reconcile" ? 20 : 3), "\(leaves.keys.sorted())")
        for (command, names) in leaves.sorted(by: { $0.key < $1.key }) {
            #expect(names.isSuperset(of: ["log-level", "log-format"]), "\(command) lacks the logging options")
        }
    }
}
