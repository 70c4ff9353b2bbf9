import Drivers
import Foundation
import MemberwiseInit

/// The installed system as the post actions see it: the written image's root partition mounted on the install
/// environment's `--root`, plus the agent settings the installer writes there itself.
///
/// `mount()` re-reads the disk's partition table (the image just replaced it), finds the partition the image
/// declares (`LABEL=…`, `UUID=…` or a number) and mounts it; `unmount()` syncs and unmounts, so the reboot that
/// follows finds a clean file system. Every step runs a command through `commands` (busybox or util-linux):
/// `blockdev`, `findfs`, `mount`, `umount`, `sync`.
@PublicMemberwiseInit
public struct InstalledRoot: Sendable {
    public var disk: String
    public var partition: String
    public var mountPoint: String
    public var commands: any CommandRunning
    /// How long a `LABEL=`/`UUID=` partition may take to appear after the partition table was re-read.
    public var settle: Duration = .seconds(10)

    /// The device of partition `number` on `disk`: `/dev/vda` 2 → `/dev/vda2`; a name ending in a digit takes a
    /// `p` (`/dev/nvme0n1` → `/dev/nvme0n1p2`, `/dev/loop0` → `/dev/loop0p2`).
    public static func device(disk: String, number: Int) -> String {
        disk.last?.isNumber == true ? "\(disk)p\(number)" : "\(disk)\(number)"
    }

    /// A block device's size in bytes; nil for anything else (a regular file grows as it is written).
    public static func blockDeviceSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFBLK else { return nil }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let end = lseek(descriptor, 0, SEEK_END)
        return end >= 0 ? Int64(end) : nil
    }

    /// Mounts the root partition on `mountPoint`; returns its device.
    @discardableResult
    public func mount() async throws(InstallError) -> String {
        // The image brought its own partition table: make the kernel read it (a busy disk refuses, which is
        // fine when nothing changed).
        _ = await tool("blockdev", ["--rereadpt", disk], timeout: .seconds(30))
        let device = try await resolve()
        try? FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let result = await tool("mount", [device, mountPoint], timeout: .seconds(60))
        guard result.succeeded else {
            throw InstallError(.postAction, "post action 'mount-root' \(result.summary): mount \(device) "
                               + "\(mountPoint): \(PostActions.lastLines(result.errorOutput + result.output))")
        }
        return device
    }

    /// Syncs and unmounts the root partition.
    public func unmount() async throws(InstallError) {
        _ = await tool("sync", [], timeout: .seconds(300))
        let result = await tool("umount", [mountPoint], timeout: .seconds(300))
        guard result.succeeded else {
            throw InstallError(.postAction, "post action 'unmount-root' \(result.summary): umount \(mountPoint): "
                               + PostActions.lastLines(result.errorOutput + result.output))
        }
        _ = await tool("sync", [], timeout: .seconds(300))
    }

    /// Runs a tool found on PATH (the runner spawns absolute paths only).
    func tool(_ name: String, _ arguments: [String], timeout: Duration) async -> CommandResult {
        await commands.run("/bin/sh", ["-c", #"exec "$@""#, "rackswarm-tool", name] + arguments, environment: [:],
                           timeout: timeout)
    }

    /// The partition's device, waiting up to `settle` for a label or UUID to show up.
    func resolve() async throws(InstallError) -> String {
        if let number = Int(partition) {
            let device = Self.device(disk: disk, number: number)
            let deadline = ContinuousClock.now + settle
            while !FileManager.default.fileExists(atPath: device), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(250))
            }
            guard FileManager.default.fileExists(atPath: device) else {
                throw InstallError(.postAction, "post action 'mount-root': \(disk) has no partition \(number) "
                                   + "(\(device) missing after the image was written)")
            }
            return device
        }
        let deadline = ContinuousClock.now + settle
        var last = CommandResult(status: 1)
        repeat {
            last = await tool("findfs", [partition], timeout: .seconds(30))
            let device = last.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if last.succeeded, !device.isEmpty { return device }
            try? await Task.sleep(for: .milliseconds(500))
        } while ContinuousClock.now < deadline
        throw InstallError(.postAction, "post action 'mount-root': no partition \(partition) on \(disk) after the "
                           + "image was written" + (last.errorOutput.isEmpty ? "" : ": \(last.errorOutput)"))
    }

    /// Where the installed system runs the agent: the path `provision-agent.service` names.
    public static let agentPath = "/usr/local/bin/provision-agent"
    /// The unit an image ships when it wants the agent at boot.
    public static let agentUnit = "/etc/systemd/system/provision-agent.service"

    /// Copies `binary` (the install environment's own agent) to `root`'s `agentPath` when the image ships
    /// `agentUnit`, mode 0755, replacing whatever is there: the image carries no agent of its own, so the installed
    /// agent is the version that installed it, and the image's bytes do not change with every agent build.
    /// Returns whether it copied.
    @discardableResult
    public static func installAgent(from binary: String, root: String) throws(InstallError) -> Bool {
        guard FileManager.default.fileExists(atPath: root + agentUnit) else { return false }
        let target = root + agentPath
        let staging = target + ".rackswarm-new"
        let failure = { (why: String) in
            try? FileManager.default.removeItem(atPath: staging)
            return InstallError(.postAction,
                                "post action 'agent-binary' failed: copying \(binary) to \(target): \(why)")
        }
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: staging)
            try FileManager.default.copyItem(atPath: binary, toPath: staging)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: staging)
        } catch {
            throw failure(error.localizedDescription)
        }
        // Renamed into place: a crash leaves the old binary or the new one, never half of it.
        guard rename(staging, target) == 0 else { throw failure(String(cString: strerror(errno))) }
        return true
    }

    /// Writes the installed agent's settings into `root`: `etc/rackswarm/agent.env` (node, port),
    /// `etc/rackswarm/agent.key` (mode 0600), and enables `provision-agent.service` when the image ships it.
    public static func writeAgentSettings(_ agent: InstallInstructions.Agent, node: String, root: String)
        throws(InstallError)
    {
        let directory = root + "/etc/rackswarm"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let environment = "RACKSWARM_NODE=\(node)\nRACKSWARM_AGENT_PORT=\(agent.port)\nRACKSWARM_AGENT_ARGS=\n"
            try Data(environment.utf8).write(to: URL(fileURLWithPath: directory + "/agent.env"), options: .atomic)
            try Data((agent.key + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/agent.key"),
                                                    options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory + "/agent.key")
            let unit = agentUnit
            let wants = root + "/etc/systemd/system/multi-user.target.wants"
            if FileManager.default.fileExists(atPath: root + unit),
                (try? FileManager.default.destinationOfSymbolicLink(atPath: wants + "/provision-agent.service")) == nil
            {
                try FileManager.default.createDirectory(atPath: wants, withIntermediateDirectories: true)
                try FileManager.default.createSymbolicLink(atPath: wants + "/provision-agent.service",
                                                           withDestinationPath: unit)
            }
        } catch {
            throw InstallError(.postAction, "post action 'agent-settings' failed: \(error.localizedDescription)")
        }
    }
}
