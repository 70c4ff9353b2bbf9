import Foundation

/// Finds and stops live processes by name.
public protocol ProcessTable: Sendable {
    /// PIDs of live (non-zombie) processes called `name`.
    func pids(named name: String) async -> [Int32]
    /// Sends SIGTERM, waits up to `grace`, then SIGKILL; returns the PIDs it signalled.
    func stop(named name: String, grace: Duration) async -> [Int32]
}

/// The Linux process table under `/proc`.
///
/// A process matches when its kernel name (`/proc/PID/comm`, 15 bytes at most) is the name cut to 15 bytes.
/// With an install root, it must also have been started from inside that root (an argument or its executable
/// path begins with the root): this keeps nodes that share a host in tests apart.
public struct LinuxProcessTable: ProcessTable {
    public let installRoot: String?
    let procRoot: String

    public init(installRoot: String? = nil, procRoot: String = "/proc") {
        self.installRoot = installRoot.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.procRoot = procRoot
    }

    public func pids(named name: String) async -> [Int32] {
        let wanted = String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: procRoot) else { return [] }
        var found: [Int32] = []
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            let base = "\(procRoot)/\(entry)"
            guard let comm = Self.read("\(base)/comm"), comm.trimmingCharacters(in: .newlines) == wanted else {
                continue
            }
            if let stat = Self.read("\(base)/stat"), Self.isZombie(stat) { continue }
            if let installRoot {
                let prefix = installRoot + "/"
                let argv = (Self.read("\(base)/cmdline") ?? "").split(separator: "\0").map(String.init)
                let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(base)/exe")) ?? ""
                guard exe.hasPrefix(prefix) || argv.contains(where: { $0.hasPrefix(prefix) }) else { continue }
            }
            found.append(pid)
        }
        return found.sorted()
    }

    public func stop(named name: String, grace: Duration) async -> [Int32] {
        let targets = await pids(named: name)
        guard !targets.isEmpty else { return [] }
        for pid in targets { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if await pids(named: name).isEmpty { return targets }
            try? await Task.sleep(for: .milliseconds(50))
        }
        for pid in await pids(named: name) { kill(pid, SIGKILL) }
        return targets
    }

    private static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The state letter follows the `)` closing the command name in `/proc/PID/stat`.
    private static func isZombie(_ stat: String) -> Bool {
        guard let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].drop(while: { $0 == " " })
        return rest.first == "Z" || rest.first == "X"
    }
}
