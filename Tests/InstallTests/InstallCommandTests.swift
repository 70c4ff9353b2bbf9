import Drivers
import Foundation
import LabSupport
import Installer
import Testing

/// The built `provision-agent install` end to end: a wrong `rackswarm.sha256` is reported as `failed` and the
/// command exits non-zero without ever reporting `written`; missing kernel arguments are named.
struct InstallCommandTests {
    static var agent: String { productsDirectory + "/provision-agent" }

    @Test func aSha256MismatchIsReportedAndTheCommandFails() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.agent), "build provision-agent first")
        let bench = try await InstallBench(size: 1 << 20)
        let root = try bench.directory.subdirectory("root")
        let disk = bench.directory.path + "/disk"
        let wrong = String(repeating: "ab", count: 32)
        let recorder = ReportRecorder()
        // The server's instructions name the same (wrong) digest: the boot entry is not stale, the image is bad.
        var instructions = bench.instructions(postInstall: [.init(name: "never", run: "touch never")])
        instructions.sha256 = wrong
        let result = try await bench.run(instructions: instructions, recorder: recorder) { port in
            let kernelArgs = (["console=ttyS0", "quiet"] + bench.arguments(port: port, sha256: wrong).rendered)
                .joined(separator: " ")
            return await runProgram(Self.agent, [
                "install", "--kernel-args", kernelArgs, "--disk", disk, "--root", root, "--listen", "127.0.0.1:0",
                "--report-interval", "0.2", "--give-up-after", "20",
            ])
        }
        #expect(!result.succeeded && result.status == 1, "\(result.summary): \(result.output)")
        let expected = "sha256 mismatch: want \(wrong) got \(bench.sha256)"
        #expect(result.errorOutput.contains("error: \(expected)"), "\(result.errorOutput)")
        #expect(await recorder.phaseSteps == [.booted, .downloading, .failed])
        #expect(await recorder.reports.last?.report.error == expected)
        #expect(!FileManager.default.fileExists(atPath: root + "/never"))
    }

    @Test func aMissingKernelArgumentIsNamed() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.agent), "build provision-agent first")
        let directory = try TemporaryDirectory()
        let cmdline = directory.path + "/cmdline"
        try ("BOOT_IMAGE=vmlinuz rackswarm.node=n1 rackswarm.torrent=http://x/t.torrent "
            + "rackswarm.sha256=\(String(repeating: "0", count: 64))\n")
            .write(toFile: cmdline, atomically: true, encoding: .utf8)
        let result = await runProgram(Self.agent, [
            "install", "--cmdline", cmdline, "--disk", directory.path + "/disk", "--root", directory.path,
        ])
        #expect(result.status == 2)
        let expected = "error: \(cmdline): missing kernel arguments rackswarm.tracker=, rackswarm.report=\n"
        #expect(result.errorOutput == expected,
                "\(result.output)")
        #expect(result.output.contains("\(cmdline): missing kernel arguments rackswarm.tracker=, rackswarm.report="),
                "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/disk"))
    }

    @Test func kernelCommandLineParsing() throws {
        let line = "console=ttyS0 rackswarm.node=n7 rackswarm.torrent=http://s/t rackswarm.tracker=http://s/announce "
            + "rackswarm.sha256=\(String(repeating: "A", count: 64)) rackswarm.report=http://s/report/n7\n"
        let parsed = try KernelCommandLine.installArguments(KernelCommandLine.split(line), source: "test")
        #expect(parsed.node == "n7" && parsed.reportURL == "http://s/report/n7")
        #expect(throws: InstallError(.missingArgument, "test: missing kernel argument rackswarm.node=")) {
            try KernelCommandLine.installArguments(
                KernelCommandLine.split(line.replacingOccurrences(of: "rackswarm.node=n7", with: "rackswarm.node=")),
                source: "test")
        }
        #expect(throws: InstallError.self) {
            try KernelCommandLine.installArguments(
                KernelCommandLine.split(line.replacingOccurrences(of: "AAAA", with: "AZAA")), source: "test")
        }
    }
}
