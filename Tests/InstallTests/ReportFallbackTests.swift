import AsyncHTTPClient
import BootServer
import Drivers
import Foundation
import Installer
import LabSupport
import Logging
import Testing
import Torrent

/// An install whose entry names a reconciler that died (nothing listens at its address) reports to the entry's
/// `rackswarm.fallback=` reconciler instead, with its token, and stays there.
struct ReportFallbackTests {
    /// What the live reconciler saw: each request's node and whether it carried the token.
    actor Seen {
        private(set) var tokens: [String?] = []
        func add(_ token: String?) { tokens.append(token) }
    }

    @Test func reportsMoveToTheFallbackWhenTheEntrysServerIsGoneAndStayThere() async throws {
        let bench = try await InstallBench(size: 1 << 20)
        let recorder = ReportRecorder()
        let seen = Seen()
        let tracker = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(interval: 5)))
        let instructions = bench.instructions(postInstall: [])
        var server = BootHTTPServer(
            httpRoot: bench.httpRoot, logger: Logger(label: "test.boot-http"), tracker: tracker,
            instructions: { node in
                await recorder.asked(node)
                return node == InstallBench.node ? instructions : nil
            },
            onReport: { node, report in try await recorder.record(node, report) })
        server.authorize = { _, token, _, _ in
            await seen.add(token)
            return token == "live-token" ? .granted : .missingToken
        }
        let dead = try freePort()  // nobody listens: the entry's reconciler was killed
        try await withBootServer(server) { port in
            try await withHTTPClient { client in
                var arguments = bench.arguments(port: dead)
                arguments.fallbacks = ["http://127.0.0.1:\(port)"]
                let channel = ReportChannel(
                    reportURL: arguments.reportURL, client: client,
                    backoff: RetryPolicy(base: .milliseconds(10), cap: .milliseconds(50)),
                    giveUpAfter: .seconds(30), token: "live-token", fallbacks: arguments.fallbacks,
                    logger: Logger(label: "test.install"))
                let got = try await channel.instructions()
                #expect(got.node == InstallBench.node)
                // The .torrent from the entry's (dead) server comes from the fallback too.
                let torrent = try await channel.fetch(arguments.torrentURL, limit: 1 << 20)
                #expect(try Metainfo(bytes: torrent).infoHash == bench.metainfo.infoHash)
                try await channel.post(InstallReport(phase: .booted, image: InstallBench.imageReference))
                // It stays with the fallback: a report that may not retry at all still arrives.
                try await channel.post(InstallReport(phase: .written, image: InstallBench.imageReference),
                                       giveUpAfter: .zero)
            }
        }
        #expect(await recorder.phases == [.booted, .written])
        #expect(await recorder.instructionRequests == [InstallBench.node])
        // The token went with every report and the instructions, to the fallback's report URL.
        #expect(await seen.tokens == ["live-token", "live-token", "live-token"])
    }

    // Without the tracker fallback the download finds no peer and never ends: the time limit fails it.
    @Test(.timeLimit(.minutes(2)))
    func aWholeInstallWhoseEntryNamesADeadReconcilerGoesThroughTheFallback() async throws {
        let bench = try await InstallBench(size: 1 << 20)
        let root = try bench.directory.subdirectory("root")
        let disk = bench.directory.path + "/disk"
        let recorder = ReportRecorder()
        let dead = try freePort()
        try await bench.run(instructions: bench.instructions(postInstall: []), recorder: recorder) { port in
            try await withHTTPClient { client in
                // Every URL of the entry (instructions, .torrent, tracker, reports) names the dead reconciler.
                var arguments = bench.arguments(port: dead)
                arguments.fallbacks = ["http://127.0.0.1:\(port)"]
                let configuration = InstallConfiguration(
                    arguments: arguments, disk: disk, root: root, listenHost: "127.0.0.1", listenPort: 0,
                    reportInterval: .milliseconds(200), giveUpAfter: .seconds(60),
                    backoff: RetryPolicy(base: .milliseconds(50), cap: .milliseconds(500)), hardware: nil)
                try await NodeInstaller(configuration: configuration, client: client,
                                        logger: Logger(label: "test.install")).run()
            }
        }
        #expect(await recorder.phaseSteps == [.booted, .downloading, .written, .postInstalled, .rebooting])
        let rebooting = try #require(await recorder.last(of: InstallBench.node))
        // The seed, found through the fallback's tracker, sent every byte; its host is a seed host.
        #expect(rebooting.fromSeed >= Int64(bench.metainfo.length), "fromSeed \(rebooting.fromSeed)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: disk)) == Data(contentsOf: URL(fileURLWithPath: bench.image)))
    }

    @Test func theSeedHostsIncludeTheFallbacks() {
        var arguments = InstallArguments(node: "n1", imageReference: "x@1", sha256: String(repeating: "0", count: 64),
                                         server: BootServerAddress(host: "10.0.0.2", httpPort: 8080))
        arguments.fallbacks = ["http://10.0.0.3:8080", "http://10.0.0.4:8080"]
        let configuration = InstallConfiguration(arguments: arguments, disk: "/dev/null", root: "/")
        #expect(configuration.seedHosts == ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
    }
}
