import Foundation
import LabSupport
import Testing

/// `make installer`'s script (scripts/installer/build.sh): built twice from the same packages and agent, the
/// kernel and initramfs are the same bytes; and the initramfs really boots under qemu (TCG): its init loads the NIC
/// driver, gets an address by DHCP, runs `provision-agent install`, and, with no `rackswarm.*` arguments, prints the
/// one line that says why the install failed and leaves a shell on the serial console.
@Suite(.serialized)
struct InstallerBuildTests {
    static let script = packageRoot + "/scripts/installer/build.sh"

    /// The agent to pack: the static release build when `make installer` made one, else the debug build.
    static var agent: String {
        let release = packageRoot + "/.build/release/provision-agent"
        let debug = packageRoot + "/.build/debug/provision-agent"
        return FileManager.default.isExecutableFile(atPath: release) ? release : debug
    }

    static func build(_ out: String, debs: String) async -> LabCommandResult {
        await runCommand("/usr/bin/env", ["DEBS_DIR=\(debs)", "bash", script, out, agent], timeout: 600)
    }

    @Test(.timeLimit(.minutes(10)))
    func twoBuildsGiveTheSameBytesAndTheInitramfsBootsToAClearFailure() async throws {
        try #require(getuid() == 0, "the installer build reads Debian packages it downloads as root")
        let directory = try TemporaryDirectory("rs-installer")
        let debs = packageRoot + "/build/installer/debs"
        let first = await Self.build(directory.path + "/a", debs: debs)
        try #require(first.status == 0, "\(first.output)")
        let second = await Self.build(directory.path + "/b", debs: debs)
        try #require(second.status == 0, "\(second.output)")
        for file in ["vmlinuz", "initramfs.img", "SHA256SUMS"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/a/\(file)"))
            let b = try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/b/\(file)"))
            #expect(!a.isEmpty && a == b, "\(file) differs between two builds")
        }
        let sums = try String(contentsOfFile: directory.path + "/a/SHA256SUMS", encoding: .utf8)
        #expect(sums.contains("  vmlinuz") && sums.contains("  initramfs.img"))

        // Boot it: user-mode networking gives DHCP; a blank virtio disk; no rackswarm.* arguments.
        let disk = directory.path + "/disk.raw"
        _ = FileManager.default.createFile(atPath: disk, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: disk))
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        let console = directory.path + "/console.log"
        let qemu = try LabProcess("/usr/bin/qemu-system-x86_64", [
            "-accel", "tcg", "-m", "768", "-vga", "none", "-display", "none", "-nodefaults", "-no-reboot",
            "-kernel", directory.path + "/a/vmlinuz", "-initrd", directory.path + "/a/initramfs.img",
            "-append", "console=ttyS0 rackswarm.node=lonely",
            "-chardev", "file,id=c0,path=\(console)", "-serial", "chardev:c0",
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56",
            "-drive", "file=\(disk),format=raw,if=virtio",
        ], outputFile: directory.path + "/qemu.out")
        defer { qemu.signal(SIGKILL) }
        var text = ""
        let deadline = ContinuousClock.now + .seconds(240)
        while ContinuousClock.now < deadline, !text.contains("a shell follows") {
            try await Task.sleep(for: .seconds(1))
            text = (try? String(contentsOfFile: console, encoding: .isoLatin1)) ?? ""
        }
        qemu.signal(SIGKILL)
        _ = await qemu.wait(timeout: 10)
        #expect(text.contains("rackswarm-installer: DHCP on eth0 (52:54:00:12:34:56)"), "\(text.suffix(3000))")
        #expect(text.contains("rackswarm-installer: address 10.0.2.15 on eth0"))
        #expect(text.contains("rackswarm-installer: installing onto /dev/vda"))
        #expect(text.contains("/proc/cmdline: missing kernel arguments rackswarm.torrent="))
        #expect(text.contains("rackswarm-installer: INSTALL FAILED: the kernel arguments are missing or malformed"))
    }
}
