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
///
/// Waits on a thread of its own: `waitpid` on Dispatch's global queue (two threads wide on two cores) queues
/// short tools behind long ones (qemu) when the suite runs in parallel, and they look timed out.
func runTool(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async -> CommandResult {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("rackswarm-tool-\(UUID().uuidString)")
        .path
    defer { unlink(output) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // A clean signal state: the test process blocks signals (SIGHUP among them) that daemons must receive.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard spawned == 0 else {
        return CommandResult(status: 127, output: "cannot start \(executable): \(String(cString: strerror(spawned)))")
    }
    let child = pid
    let timedOut = Flag()
    let killer = Task {
        try await Task.sleep(for: timeout)
        timedOut.set()
        kill(child, SIGKILL)
    }
    let raw: Int32 = await withCheckedContinuation { continuation in
        let waiter = Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) == -1 && errno == EINTR {}
            continuation.resume(returning: status)
        }
        waiter.start()
    }
    killer.cancel()
    let text = String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self)
    let signal = raw & 0x7f
    if signal != 0 && signal != 0x7f {
        return CommandResult(status: 128 + signal, signaled: true, timedOut: timedOut.isSet, output: text)
    }
    return CommandResult(status: (raw >> 8) & 0xff, timedOut: timedOut.isSet, output: text)
}

/// A flag set from one task and read from another.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
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
