import Foundation
import LabSupport
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

/// Starts `executable` (LabSupport's `LabProcess`: posix_spawn, reaped by polling `waitpid`, never a blocked
/// thread) with its output going to a new `outputFile`; returns the pid.
func spawn(_ executable: String, _ arguments: [String], outputFile: String) throws -> pid_t {
    try? FileManager.default.removeItem(atPath: outputFile)
    return try LabProcess(executable, arguments, outputFile: outputFile).pid
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

/// A free TCP port on 127.0.0.1 (0 when none can be had, which the test then fails on).
func freePort() -> Int {
    (try? LabSupport.freePort()) ?? 0
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
