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

/// A child process (LabSupport's `LabProcess`: its own process group, watched, killed when released) with its
/// output in a new file; `wait` answers nil at its timeout instead of killing.
final class ChildProcess: @unchecked Sendable {
    let process: LabProcess
    let output: String

    init(_ executable: String, _ arguments: [String], outputFile: String) throws {
        output = outputFile
        try? FileManager.default.removeItem(atPath: outputFile)
        process = try LabProcess(executable, arguments, outputFile: outputFile)
    }

    var pid: pid_t { process.pid }
    var isRunning: Bool { process.isRunning }

    /// Waits for exit up to `timeout` seconds; returns the exit status or nil on timeout.
    func wait(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.status
    }

    var log: String { process.output }
}

/// One line per client of a swarm (pieces, connected peers, bytes in and out, bytes from each host), for the
/// failure message of a swarm that did not finish: which side stopped moving.
/// Leechers are named by `names`, or node0, node1… .
func swarmState(seed: TorrentClient, leechers: [TorrentClient], names: [String]? = nil) async -> String {
    let names = ["seed"] + (names ?? leechers.indices.map { "node\($0)" })
    var lines: [String] = []
    for (name, client) in zip(names, [seed] + leechers) {
        guard let progress = try? await client.progress() else {
            lines.append("\(name): no progress (stopped)")
            continue
        }
        let from = progress.downloadedByHost.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append(
            "\(name): \(progress.verifiedPieces)/\(progress.pieceCount) pieces, \(progress.peers) peers, "
                + "in \(progress.downloadedBytes) B, out \(progress.uploadedBytes) B, "
                + "from [\(from.joined(separator: ", "))]")
    }
    return lines.joined(separator: "\n")
}

/// Runs a command to completion (LabSupport's `runProcess`) and returns its status and output (stdout, stderr).
func runCommand(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let result = try await runProcess(executable, arguments)
    return (result.status, result.stdout + result.stderr)
}

/// A free TCP port on 127.0.0.1 (0 when none can be had, which the test then fails on).
func freePort() -> Int {
    (try? LabSupport.freePort()) ?? 0
}

/// Whether the external peers (libtorrent, aria2, mktorrent) are installed.
enum Peers {
    static let python = "/usr/bin/python3"
    static var hasLibtorrent: Bool {
        (try? runProcessBlocking(python, ["-c", "import libtorrent"]).status) == 0
    }
    static var hasAria2: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/aria2c") }
    static var hasMktorrent: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/mktorrent") }
    /// Root with a free loop device (`losetup -f` only looks, it attaches nothing).
    static var loopDevicesUsable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/losetup")
            && (try? runProcessBlocking("/usr/sbin/losetup", ["-f"]).status) == 0
    }
}
