import AsyncHTTPClient
import BootServer
import Drivers
import Foundation
import LabSupport
import Hummingbird
import Installer
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Torrent

/// What the report route received, in order.
actor ReportRecorder {
    private(set) var reports: [(node: String, report: InstallReport)] = []
    private(set) var instructionRequests: [String] = []
    /// Answer the next `failFirst` posts with an error (the route's 500) before recording any.
    private var failures: Int

    init(failFirst: Int = 0) {
        self.failures = failFirst
    }

    struct Refused: Error {}

    func record(_ node: String, _ report: InstallReport) throws {
        if failures > 0 {
            failures -= 1
            throw Refused()
        }
        reports.append((node, report))
    }

    func asked(_ node: String) {
        instructionRequests.append(node)
    }

    var phases: [InstallReport.Phase] { reports.map(\.report.phase) }

    /// Phases with consecutive `downloading` reports collapsed into one.
    var phaseSteps: [InstallReport.Phase] { steps(of: InstallBench.node) }

    func steps(of node: String) -> [InstallReport.Phase] {
        var steps: [InstallReport.Phase] = []
        for entry in reports where entry.node == node && steps.last != entry.report.phase {
            steps.append(entry.report.phase)
        }
        return steps
    }

    func last(of node: String) -> InstallReport? {
        reports.last { $0.node == node }?.report
    }
}

/// An image, its .torrent under the HTTP root, a boot server with the tracker and the report route, and the
/// reconciler's seed (the Torrent engine, seed-only) — every piece the install environment talks to.
struct InstallBench {
    static let node = "n1"
    static let imageReference = "tiny@1"

    let directory: TemporaryDirectory
    let image: String
    let sha256: String
    let metainfo: Metainfo
    let httpRoot: String

    /// A random image of `size` bytes in 64 KiB pieces.
    init(size: Int = 3 << 20) async throws {
        directory = try TemporaryDirectory()
        httpRoot = try directory.subdirectory("http")
        let image = directory.path + "/image.img"
        self.image = image
        // Seconds of computing on a loaded machine (a debug build): on a thread of its own (see onOwnThread).
        try await onOwnThread {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: URL(fileURLWithPath: image))
        }
        sha256 = try await Self.sha256Hex(of: image)
        metainfo = try await onOwnThread {
            try MetainfoBuilder.create(path: image, pieceLength: 64 << 10, logger: Logger(label: "test.image"))
        }
        try FileManager.default.createDirectory(atPath: httpRoot + "/torrents", withIntermediateDirectories: true)
        try Data(metainfo.encoded()).write(
            to: URL(fileURLWithPath: httpRoot + "/torrents/\(Self.imageReference).torrent"))
    }

    /// SHA-256 through sha256sum (coreutils): an implementation other than the one under test.
    static func sha256Hex(of path: String) async throws -> String {
        String(try await runProcess("/usr/bin/sha256sum", [path]).stdout.prefix(64))
    }

    func instructions(node: String = Self.node, postInstall: [InstallInstructions.PostAction])
        -> InstallInstructions
    {
        InstallInstructions(node: node, rack: "r1", image: Self.imageReference, sha256: sha256,
                            postInstall: postInstall)
    }

    func arguments(node: String = Self.node, port: Int, sha256: String? = nil) -> InstallArguments {
        InstallArguments(node: node, imageReference: Self.imageReference, sha256: sha256 ?? self.sha256,
                         server: BootServerAddress(host: "127.0.0.1", httpPort: port))
    }

    /// Runs the boot server (tracker, report route answering `instructions` for `n1`) and the seed for `body`.
    func run<T: Sendable>(
        instructions: InstallInstructions, recorder: ReportRecorder,
        _ body: @Sendable (_ port: Int) async throws -> T
    ) async throws -> T {
        try await run(instructions: [instructions], recorder: recorder) { port, _ in try await body(port) }
    }

    /// The same with instructions for several nodes; `body` also gets the seed (to stop it early).
    func run<T: Sendable>(
        instructions list: [InstallInstructions], recorder: ReportRecorder,
        _ body: @Sendable (_ port: Int, _ seed: TorrentClient) async throws -> T
    ) async throws -> T {
        var byNode: [String: InstallInstructions] = [:]
        for entry in list { byNode[entry.node] = entry }
        let known = byNode
        let tracker = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(interval: 5)))
        let server = BootHTTPServer(
            httpRoot: httpRoot, logger: Logger(label: "test.boot-http"), tracker: tracker,
            instructions: { node in
                await recorder.asked(node)
                return known[node]
            },
            onReport: { node, report in
                guard known[node] != nil else { throw BootHTTPServer.ReportRejection.unknownNode }
                try await recorder.record(node, report)
            })
        return try await withBootServer(server) { port in
            let seed = try await TorrentClient.start(
                metainfo: metainfo, path: image, seedOnly: true,
                configuration: TorrentConfiguration(
                    listenHost: "127.0.0.1", listenPort: 0, trackerURL: "http://127.0.0.1:\(port)/announce"),
                logger: Logger(label: "test.seed"))
            return try await withTeardown { try await body(port, seed) } teardown: { await seed.stop() }
        }
    }
}

/// Runs `server` on 127.0.0.1 with a free port for the length of `body`, then shuts it down gracefully.
///
/// Not by cancelling its task: a connection accepted in that moment and not yet served traps in NIO ("Deinited
/// NIOAsyncWriter without calling finish()", apple/swift-nio#3481), and seeds announce `stopped` right at the end.
func withBootServer<T: Sendable>(_ server: BootHTTPServer, _ body: @Sendable (Int) async throws -> T)
    async throws -> T
{
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = server.application(host: "127.0.0.1", port: 0) { continuation.yield($0) }
    let services = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test.services")))
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await services.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(port))
        } catch {
            outcome = .failure(error)
        }
        await services.triggerGracefulShutdown()
        try await group.waitForAll()
        return try outcome.get()
    }
}

/// One HTTP client per test, shut down at the end.
func withHTTPClient<T: Sendable>(_ body: (HTTPClient) async throws -> T) async throws -> T {
    let client = NodeInstaller.makeHTTPClient()
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Runs a program (a LabSupport child) and returns its exit status, combined output and stderr.
func runProgram(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(120)) async
    -> CommandResult
{
    let result = await runCommand(executable, arguments, environment: [:], timeout: Double(timeout.components.seconds),
                                  separateErrors: true)
    return CommandResult(status: result.status, signaled: result.signaled, timedOut: result.timedOut,
                         output: result.output, errorOutput: result.errorOutput)
}
