import AsyncHTTPClient
import BootServer
import Drivers
import Foundation
import LabSupport
import Installer
import Logging
import Testing
import Torrent

/// `NodeInstaller` against a real boot server (tracker and report route with recording closures) and a real seed:
/// the phases arrive in order, the disk equals the image, the post actions ran in order with the documented
/// environment and working directory.
struct InstallFlowTests {
    /// Runs the installer to its end: nil when it succeeds, else its `InstallError`.
    static func installError(_ configuration: InstallConfiguration, _ client: HTTPClient) async -> InstallError? {
        do {
            try await NodeInstaller(configuration: configuration, client: client, logger: Logger(label: "test.install"))
                .run()
            return nil
        } catch {
            return error
        }
    }

    @Test func installsTheImageAndReportsEveryPhaseInOrder() async throws {
        let bench = try InstallBench()
        let root = try bench.directory.subdirectory("root")
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        let disk = bench.directory.path + "/disk"
        let recorder = ReportRecorder()
        let actions = [
            InstallInstructions.PostAction(
                name: "environment",
                run: #"printf '%s\n' "$RACKSWARM_NODE" "$RACKSWARM_ROOT" "$RACKSWARM_DISK" "$RACKSWARM_IMAGE" "$PWD""#
                    + #" > "$RACKSWARM_ROOT/etc/env""#),
            InstallInstructions.PostAction(name: "second", run: "cp etc/env etc/second && echo done >> etc/second"),
        ]
        try await bench.run(instructions: bench.instructions(postInstall: actions), recorder: recorder) { port in
            try await withHTTPClient { client in
                let configuration = InstallConfiguration(
                    arguments: bench.arguments(port: port), disk: disk, root: root, listenHost: "127.0.0.1",
                    listenPort: 0, reportInterval: .milliseconds(200), giveUpAfter: .seconds(30))
                let done = try await NodeInstaller(configuration: configuration, client: client,
                                                   logger: Logger(label: "test.install")).run()
                #expect(done.image == InstallBench.imageReference)
            }
        }
        #expect(await recorder.phaseSteps == [.booted, .downloading, .written, .postInstalled, .rebooting])
        #expect(await recorder.reports.allSatisfy { $0.node == InstallBench.node })
        #expect(await recorder.instructionRequests == [InstallBench.node])
        let reports = await recorder.reports.map(\.report)
        let size = Int64(bench.metainfo.length)
        let lastDownloading = try #require(reports.last { $0.phase == .downloading })
        #expect(lastDownloading.percent == 100 && lastDownloading.downloaded == size)
        let percents = reports.filter { $0.phase == .downloading }.map(\.percent)
        #expect(percents == percents.sorted(), "percent never goes back: \(percents)")
        let rebooting = try #require(reports.last)
        #expect(rebooting.phase == .rebooting && rebooting.image == InstallBench.imageReference)
        // Every byte came from the seed (the tracker's host, 127.0.0.1): there is no other peer.
        #expect(rebooting.fromSeed >= size, "fromSeed \(rebooting.fromSeed) of \(size)")
        #expect(reports.allSatisfy { $0.error == nil })

        let imageBytes = try Data(contentsOf: URL(fileURLWithPath: bench.image))
        let diskBytes = try Data(contentsOf: URL(fileURLWithPath: disk))
        #expect(diskBytes == imageBytes)
        let env = try String(contentsOfFile: root + "/etc/env", encoding: .utf8)
        #expect(env == "\(InstallBench.node)\n\(root)\n\(disk)\n\(InstallBench.imageReference)\n\(root)\n")
        let second = try String(contentsOfFile: root + "/etc/second", encoding: .utf8)
        #expect(second == env + "done\n", "the second action ran after the first, in the root")
    }

    @Test func aFailingPostActionIsReportedByNameWithItsStatusAndStderr() async throws {
        let bench = try InstallBench(size: 1 << 20)
        let root = try bench.directory.subdirectory("root")
        let recorder = ReportRecorder()
        let actions = [
            InstallInstructions.PostAction(name: "hostname", run: "echo ok > hostname"),
            InstallInstructions.PostAction(name: "network", run: "echo 'no ifcfg template' >&2; exit 3"),
            InstallInstructions.PostAction(name: "never", run: "touch never"),
        ]
        let error = try await bench.run(instructions: bench.instructions(postInstall: actions), recorder: recorder) {
            port in
            try await withHTTPClient { client in
                let configuration = InstallConfiguration(
                    arguments: bench.arguments(port: port), disk: bench.directory.path + "/disk", root: root,
                    listenHost: "127.0.0.1", listenPort: 0, reportInterval: .milliseconds(200),
                    giveUpAfter: .seconds(30))
                return await Self.installError(configuration, client)
            }
        }
        let failure = try #require(error)
        #expect(failure.code == .postAction)
        #expect(failure.detail == "post action 'network' exited 3: no ifcfg template")
        #expect(await recorder.phaseSteps == [.booted, .downloading, .written, .failed])
        #expect(await recorder.reports.last?.report.error == "post action 'network' exited 3: no ifcfg template")
        #expect(FileManager.default.fileExists(atPath: root + "/hostname"))
        #expect(!FileManager.default.fileExists(atPath: root + "/never"))
    }

    @Test func reportsTheServerRefusedAreRetriedAndTheInstallCompletes() async throws {
        let bench = try InstallBench(size: 512 << 10)
        let root = try bench.directory.subdirectory("root")
        // The first two POSTs (the booted report and its first retry) get a 500.
        let recorder = ReportRecorder(failFirst: 2)
        try await bench.run(instructions: bench.instructions(postInstall: []), recorder: recorder) { port in
            try await withHTTPClient { client in
                let configuration = InstallConfiguration(
                    arguments: bench.arguments(port: port), disk: bench.directory.path + "/disk", root: root,
                    listenHost: "127.0.0.1", listenPort: 0, reportInterval: .milliseconds(200),
                    giveUpAfter: .seconds(30), backoff: RetryPolicy(base: .milliseconds(50), cap: .milliseconds(200)))
                try await NodeInstaller(configuration: configuration, client: client,
                                        logger: Logger(label: "test.install")).run()
            }
        }
        #expect(await recorder.phases.first == .booted, "the booted report was retried until it was recorded")
        #expect(await recorder.phaseSteps == [.booted, .downloading, .written, .postInstalled, .rebooting])
    }

    @Test func anUnreachableServerEndsWithAClearErrorAfterTheBound() async throws {
        let directory = try TemporaryDirectory()
        // A port nobody listens on: bind one, note it, close it.
        let port = try freePort()
        let arguments = InstallArguments(node: "n1", imageReference: "x@1", sha256: String(repeating: "0", count: 64),
                                         server: BootServerAddress(host: "127.0.0.1", httpPort: port))
        let error = try await withHTTPClient { client in
            let configuration = InstallConfiguration(
                arguments: arguments, disk: directory.path + "/disk", root: directory.path, listenHost: "127.0.0.1",
                listenPort: 0, giveUpAfter: .seconds(2),
                backoff: RetryPolicy(base: .milliseconds(100), cap: .milliseconds(400)))
            return await Self.installError(configuration, client)
        }
        let failure = try #require(error)
        #expect(failure.code == .serverUnreachable && failure.intent == .transient)
        #expect(failure.detail.contains("cannot get install instructions: GET http://127.0.0.1:\(port)/report/n1"),
                "\(failure.detail)")
        #expect(failure.detail.contains("gave up after"), "\(failure.detail)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/disk"))
    }
}
