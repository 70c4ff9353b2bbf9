import BootServer
import Drivers
import Foundation
import LabSupport
import Hummingbird
import Logging
import Torrent

/// Records what the boot HTTP server answered.
actor RequestLog {
    private(set) var served: [BootHTTPServer.Served] = []

    func record(_ request: BootHTTPServer.Served) {
        served.append(request)
    }
}

/// Runs the boot HTTP server on 127.0.0.1 with a free port for the length of `body`.
func withBootServer<T: Sendable>(
    httpRoot: String, log: RequestLog? = nil, tracker: TrackerService? = nil,
    configure: (inout BootHTTPServer) -> Void = { _ in }, _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var observer: (@Sendable (BootHTTPServer.Served) async -> Void)?
    if let log {
        observer = { served in await log.record(served) }
    }
    var server = BootHTTPServer(httpRoot: httpRoot, logger: Logger(label: "test.boot-http"), tracker: tracker,
                                observer: observer)
    configure(&server)
    let app = server.application(host: "127.0.0.1", port: 0) { continuation.yield($0) }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CocoaError(.fileReadUnknown) }
        do {
            let result = try await body(port)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Runs a program to completion (or kills it at `timeout`) and returns its status and combined output, through
/// the labs' process runner (a clean signal mask: the test process blocks signals, SIGHUP among them, that daemons
/// must receive; `waitpid` polled, so no thread blocks while qemu runs).
func runTool(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async -> CommandResult {
    let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
    let result = await runCommand(executable, arguments, timeout: seconds)
    return CommandResult(status: result.status, signaled: result.signaled, timedOut: result.timedOut,
                         output: result.output)
}

/// Where a Debian tool lives, or nil; tests fail (not skip) when a peer is missing: scripts/packages/boot.apt.
func tool(_ name: String) -> String? {
    for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] where FileManager.default.isExecutableFile(
        atPath: "\(directory)/\(name)")
    {
        return "\(directory)/\(name)"
    }
    return nil
}

/// Serial console text without ANSI escapes and carriage returns.
func cleanConsole(_ text: String) -> String {
    var out = ""
    var escape = false
    for character in text {
        if escape {
            if character.isLetter { escape = false }
            continue
        }
        if character == "\u{1B}" {
            escape = true
            continue
        }
        if character == "\r" { continue }
        out.append(character)
    }
    return out
}

extension TemporaryDirectory {
    /// Writes `site/site.yaml` here: a lab site whose boot roots are this directory's `tftp` and `http`, followed by
    /// `documents` (more YAML documents, each opening with `---`). Returns the HTTP root.
    @discardableResult
    func writeBootSite(_ documents: String = "") throws -> String {
        let http = try subdirectory("http")
        try write("site/site.yaml", Data("""
            apiVersion: rackswarm.io/v1
            kind: Site
            metadata: {name: lab}
            spec:
              network: {pxeSubnet: 10.9.0.0/24, serverAddress: 10.9.0.1}
              boot: {tftpRoot: \(try subdirectory("tftp")), httpRoot: \(http)}
            \(documents)
            """.utf8))
        return http
    }
}
