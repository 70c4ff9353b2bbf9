import Foundation
import LabSupport
import Testing

/// The children a test starts do not outlive it: a `LabProcess` released while its program runs kills its process
/// group, and the runner's watchdog kills every group still named when the runner dies (a timed-out test, a runner
/// killed by CI).
struct ChildWatchdogTests {
    /// Waits up to `seconds` for `pid` to be gone.
    static func gone(_ pid: pid_t, within seconds: Double) async -> Bool { await processesExit([pid], within: seconds) }

    /// Starts `sh` that starts a `sleep` in the background and prints its pid; returns both.
    static func shellWithGrandchild(_ directory: TemporaryDirectory, _ name: String) async throws
        -> (LabProcess, pid_t)
    {
        let shell = try LabProcess("/bin/sh", ["-c", "sleep 300 & echo $!; wait"],
                                   outputFile: directory.path + "/\(name).out")
        var grandchild: pid_t?
        for _ in 0..<400 where grandchild == nil {
            grandchild = shell.output.split(separator: "\n").compactMap { pid_t($0) }.first
            if grandchild == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        return (shell, try #require(grandchild, "sh printed no pid: \(shell.output)"))
    }

    @Test(.timeLimit(.minutes(1))) func releasingAProcessKillsItsGroup() async throws {
        let directory = try TemporaryDirectory("rackswarm-watchdog")
        /// Starts the shell and lets go of it once its grandchild runs.
        func startAndRelease() async throws -> pid_t {
            let (shell, grandchild) = try await Self.shellWithGrandchild(directory, "released")
            #expect(shell.isRunning && processIsAlive(grandchild))
            return grandchild
        }
        let grandchild = try await startAndRelease()
        #expect(await Self.gone(grandchild, within: 10), "the background sleep outlived its released parent")
    }

    @Test(.timeLimit(.minutes(1))) func theWatchdogKillsWatchedGroupsWhenTheRunnerDies() async throws {
        let directory = try TemporaryDirectory("rackswarm-watchdog")
        let watched = directory.path + "/children"
        try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: true)
        // A stand-in for the test runner, and a child of it (a group with a grandchild) named in its directory.
        let runner = try LabProcess("/bin/sleep", ["300"], outputFile: directory.path + "/runner.out")
        let (child, grandchild) = try await Self.shellWithGrandchild(directory, "child")
        _ = FileManager.default.createFile(atPath: "\(watched)/\(child.pid)", contents: nil)
        let watchdog = try LabProcess("/bin/sh", ["-c", ChildWatchdog.script, "watchdog", "\(runner.pid)", watched],
                                      outputFile: directory.path + "/watchdog.out")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(child.isRunning, "the watchdog must leave children alone while the runner lives")
        runner.stop()
        #expect(await watchdog.wait(timeout: 20) == 0, "\(watchdog.output)")
        #expect(await child.wait(timeout: 20) == 128 + SIGKILL)
        #expect(await Self.gone(grandchild, within: 10))
        #expect(!FileManager.default.fileExists(atPath: watched), "the watchdog removes its directory")
    }
}

/// A child gets stdin, stdout and stderr, and none of the runner's other descriptors: PostgreSQL, started from a
/// runner holding hundreds of them, refused to start ("insufficient file descriptors").
struct ChildDescriptorTests {
    @Test func aChildInheritsOnlyItsThreeStandardDescriptors() async throws {
        let directory = try TemporaryDirectory("rackswarm-descriptors")
        // Descriptors without close-on-exec, as a leaky library would hold them.
        let leaked = (0..<20).map { _ in open(directory.path, O_RDONLY) }
        defer { for descriptor in leaked { close(descriptor) } }
        #expect(leaked.allSatisfy { $0 > 2 })
        // The shell's own descriptors: 0, 1, 2 and the one `ls` opens to read the directory.
        let listed = await runCommand("/bin/sh", ["-c", "ls /proc/$$/fd"])
        let descriptors = Set(listed.output.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
        #expect(descriptors.isSuperset(of: [0, 1, 2]), "\(listed.output)")
        #expect(descriptors.isDisjoint(with: leaked), "inherited: \(descriptors.intersection(leaked).sorted())")
    }
}
