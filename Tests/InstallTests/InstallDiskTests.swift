import Drivers
import Foundation
import LabSupport
import Testing

/// The install's checks on a real block device (a loop device over a small file): a disk smaller than the image
/// ends the install with `failed` before a single byte is written to it.
@Suite(.serialized)
struct InstallDiskTests {
    static let agent = InstallCommandTests.agent

    @Test func aDiskSmallerThanTheImageStallsBeforeAnyByteIsWritten() async throws {
        try #require(getuid() == 0, "loop devices need root")
        try #require(FileManager.default.isExecutableFile(atPath: Self.agent), "build provision-agent first")
        let bench = try await InstallBench(size: 1 << 20)
        let root = try bench.directory.subdirectory("root")
        let backing = bench.directory.path + "/small.disk"
        let original = Data(repeating: 0xEE, count: 512 << 10)
        try original.write(to: URL(fileURLWithPath: backing))
        let attach = await runProgram("/usr/sbin/losetup", ["--find", "--show", backing])
        try #require(attach.succeeded, "losetup: \(attach.output) \(attach.errorOutput)")
        let device = attach.output.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? runProcessBlocking("/usr/sbin/losetup", ["-d", device]) }

        let recorder = ReportRecorder()
        let result = try await bench.run(instructions: bench.instructions(postInstall: []), recorder: recorder) {
            port in
            await runProgram(Self.agent, [
                "install", "--kernel-args", bench.arguments(port: port).rendered.joined(separator: " "),
                "--disk", device, "--root", root, "--listen", "127.0.0.1:0", "--give-up-after", "20",
            ])
        }
        let expected = "disk \(device) holds \(512 << 10) bytes but image tiny@1 has \(1 << 20): nothing was written"
        #expect(result.status == 1, "\(result.summary): \(result.output) \(result.errorOutput)")
        #expect(result.errorOutput.contains("error: \(expected)"), "\(result.errorOutput)")
        #expect(await recorder.phaseSteps == [.booted, .failed])
        #expect(await recorder.reports.last?.report.error == expected)
        #expect(await recorder.reports.last?.report.stalled == true, "the node stalls: a retry would fail the same way")
        #expect(try Data(contentsOf: URL(fileURLWithPath: backing)) == original, "the disk is untouched")
    }
}
