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

/// A child process killed (by its pid) when the value is released.
final class ChildProcess {
    let process = Process()
    let output: String

    init(_ executable: String, _ arguments: [String], outputFile: String) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardOutput = handle
        process.standardError = handle
        output = outputFile
        try process.run()
    }

    /// Waits for exit up to `timeout` seconds; returns the exit status or nil on timeout.
    func wait(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs a command to completion and returns its exit status and combined output.
func runCommand(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
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
