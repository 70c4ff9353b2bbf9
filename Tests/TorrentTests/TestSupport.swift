import Foundation
import Testing

@testable import Torrent

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/rs-torrent-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Writes `size` pseudo-random bytes (seeded) to `path`.
func writeRandomFile(_ path: String, size: Int, seed: UInt64) throws {
    var generator = SplitMix64(seed: seed)
    var bytes = [UInt8](repeating: 0, count: size)
    bytes.withUnsafeMutableBytes { raw in
        let words = raw.bindMemory(to: UInt64.self)
        for index in words.indices { words[index] = generator.next() }
        for index in (words.count * 8)..<size { raw[index] = UInt8(truncatingIfNeeded: generator.next()) }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Whether two files have identical bytes.
func filesEqual(_ lhs: String, _ rhs: String) -> Bool {
    guard let left = FileManager.default.contents(atPath: lhs), let right = FileManager.default.contents(atPath: rhs)
    else { return false }
    return left == right
}

/// A small deterministic generator for test data.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Starts `executable` with its output going to `outputFile`; returns the pid.
///
/// posix_spawn and waitpid directly: Foundation's Process can hang in `waitUntilExit` when tests start and reap
/// many processes in parallel, and a blocked waiter starves Swift's two-thread cooperative pool on this machine.
func spawn(_ executable: String, _ arguments: [String], outputFile: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard status == 0 else { throw TorrentError(code: .stopped, detail: "spawn \(executable): \(status)") }
    return pid
}

/// Reaps `pid` if it has exited: its exit status (128 + signal when killed), or nil while it runs.
func reap(_ pid: pid_t) -> Int32? {
    var status: Int32 = 0
    let result = waitpid(pid, &status, WNOHANG)
    guard result == pid else { return result < 0 ? -1 : nil }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

/// A child process killed (by its pid) when the value is released.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let output: String
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], outputFile: String) throws {
        output = outputFile
        pid = try spawn(executable, arguments, outputFile: outputFile)
    }

    var isRunning: Bool {
        if exitStatus == nil { exitStatus = reap(pid) }
        return exitStatus == nil
    }

    /// Waits for exit up to `timeout` seconds; returns the exit status or nil on timeout.
    func wait(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return exitStatus
    }

    var log: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// Runs a command to completion (polling, so no thread blocks in Foundation) and returns status and output.
func runCommand(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let outputFile = FileManager.default.temporaryDirectory.path + "/rs-cmd-\(getpid())-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: outputFile) }
    let pid = try spawn(executable, arguments, outputFile: outputFile)
    var status: Int32?
    while true {
        status = reap(pid)
        if status != nil { break }
        usleep(5_000)
    }
    let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
    return (status ?? -1, output)
}

/// Picks a free TCP port on 127.0.0.1 by binding port 0.
func freePort() -> Int {
    let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(sock) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether the external peers (libtorrent, aria2, mktorrent) are installed.
enum Peers {
    static let python = "/usr/bin/python3"
    static var hasLibtorrent: Bool {
        (try? runCommand(python, ["-c", "import libtorrent"]).status) == 0
    }
    static var hasAria2: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/aria2c") }
    static var hasMktorrent: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/mktorrent") }
    /// Root with a free loop device (`losetup -f` only looks, it attaches nothing).
    static var loopDevicesUsable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/losetup")
            && (try? runCommand("/usr/sbin/losetup", ["-f"]).status) == 0
    }
}
