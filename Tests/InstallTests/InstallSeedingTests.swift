import BootServer
import Drivers
import Foundation
import LabSupport
import Installer
import Logging
import Testing
import Torrent

/// `--seed-for`: a first-wave node keeps seeding after `written`, so the next node completes after the
/// reconciler's seed has stopped; the seeding node reports what it uploaded, and that it began uploading at 100 %.
struct InstallSeedingTests {
    @Test func aFirstWaveNodeSeedsTheNextOneAfterTheSeedStops() async throws {
        let bench = try await InstallBench(size: 1 << 20)
        let recorder = ReportRecorder()
        let first = try bench.directory.subdirectory("n1")
        let second = try bench.directory.subdirectory("n2")
        let list = [bench.instructions(node: "n1", postInstall: []), bench.instructions(node: "n2", postInstall: [])]
        try await bench.run(instructions: list, recorder: recorder) { port, seed in
            try await withHTTPClient { client in
                func installer(_ node: String, _ root: String, seedFor: Duration) -> NodeInstaller {
                    NodeInstaller(
                        configuration: InstallConfiguration(
                            arguments: bench.arguments(node: node, port: port), disk: root + "/disk", root: root,
                            listenHost: "127.0.0.1", listenPort: 0, seedFor: seedFor,
                            reportInterval: .milliseconds(200), giveUpAfter: .seconds(30)),
                        client: client, logger: Logger(label: "test.\(node)"))
                }
                let seeding = Task { try await installer("n1", first, seedFor: .seconds(20)).run() }
                // Once n1 has written its image, the reconciler's seed goes away.
                let deadline = ContinuousClock.now + .seconds(60)
                while await !recorder.steps(of: "n1").contains(.postInstalled) {
                    try #require(ContinuousClock.now < deadline, "n1 never finished its download")
                    try await Task.sleep(for: .milliseconds(100))
                }
                await seed.stop()
                try await installer("n2", second, seedFor: .zero).run()
                #expect(await recorder.steps(of: "n1").last == .postInstalled, "n1 is still seeding")
                _ = try await seeding.value
            }
        }
        #expect(await recorder.steps(of: "n2") == [.booted, .downloading, .written, .postInstalled, .rebooting])
        #expect(try Data(contentsOf: URL(fileURLWithPath: second + "/disk"))
                == Data(contentsOf: URL(fileURLWithPath: bench.image)))
        let rebooting = try #require(await recorder.last(of: "n1"))
        #expect(rebooting.phase == .rebooting)
        #expect(rebooting.uploaded >= Int64(bench.metainfo.length), "n1 uploaded the whole image to n2")
        #expect(rebooting.uploadStartedAtPercent == 100)
    }
}
