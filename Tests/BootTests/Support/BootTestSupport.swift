import BootServer
import Drivers
import Foundation
import Hummingbird
import Logging
import Torrent

/// A directory under /tmp removed when the test ends.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ prefix: String = "rackswarm-boot") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func subdirectory(_ name: String) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    func write(_ relative: String, _ data: Data) throws {
        let url = URL(fileURLWithPath: path + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOfFile: path + "/" + relative, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Records what the boot HTTP server answered.
actor RequestLog {
    private(set) var served: [BootHTTPServer.Served] = []

    func record(_ request: BootHTTPServer.Served) {
        served.append(request)
    }
}

/// Runs the boot HTTP server on 127.0.0.1 with a free port for the length of `body`.
func withBootServer<T: Sendable>(
    httpRoot: String, log: RequestLog? = nil, tracker: TrackerService? = nil, _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var observer: (@Sendable (BootHTTPServer.Served) async -> Void)?
    if let log {
        observer = { served in await log.record(served) }
    }
    let server = BootHTTPServer(httpRoot: httpRoot, logger: Logger(label: "test.boot-http"), tracker: tracker,
                                observer: observer)
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

/// Runs a program to completion (or kills it at `timeout`) and returns its status and combined output.
func runTool(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(30)) async -> CommandResult {
    await ProcessCommandRunner().run(executable, arguments, environment: [:], timeout: timeout)
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
