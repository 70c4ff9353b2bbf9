import BootServer
import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// A real iPXE firmware under qemu boots from our tree: DHCP (qemu's), our TFTP dispatcher, our per-MAC chain
/// entry, then our per-MAC script over HTTP from the Hummingbird endpoint, which fetches the kernel from it too.
struct QEMUiPXEBootTests {
    @Test(.timeLimit(.minutes(1)))
    func ipxeFirmwareFetchesThePerNodeScriptOverTFTPThenHTTP() async throws {
        let qemu = try #require(tool("qemu-system-x86_64"), "qemu-system-x86 is not installed (boot.apt)")
        let directory = try TemporaryDirectory("rackswarm-qemu")
        let tftpRoot = try directory.subdirectory("tftp")
        let httpRoot = try directory.subdirectory("http")
        // Not a real kernel: iPXE fetches it, refuses to run it, and the entry's failure path exits to the firmware.
        // Over 640 KiB so iPXE cannot take it for a raw PXE image either (it would jump into it).
        try directory.write("http/boot/vmlinuz", Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        try directory.write("http/boot/initrd.img", Data(repeating: 7, count: 1024))
        let log = RequestLog()
        let nonce = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let node = "qemu-\(nonce)"

        let console = try await withBootServer(httpRoot: httpRoot, log: log) { port in
            let server = BootServerAddress(host: "10.0.2.2", httpPort: port)
            let driver = FileBootDriver(tftpRoot: tftpRoot, httpRoot: httpRoot, server: server,
                                        logger: Logger(label: "test.boot"))
            try await driver.writeSiteFiles()
            let arguments = InstallArguments(node: node, imageReference: "lab@1",
                                             sha256: String(repeating: "ab", count: 32), server: server)
            try await driver.write(BootEntry(
                node: node, mac: "52:54:00:12:34:56", ip: "10.0.2.15", loader: .ipxe,
                mode: .install(InstallKernel(imageReference: "lab@1", kernel: "boot/vmlinuz", initrd: "boot/initrd.img",
                                             arguments: ["console=ttyS0"] + arguments.rendered))))
            let consolePath = directory.path + "/console.txt"
            let command = "exec \(qemu) -accel tcg -m 256 -vga none -nographic -no-reboot "
                + "-netdev user,id=n0,tftp=\(tftpRoot),bootfile=rackswarm.ipxe "
                + "-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 "
                + "-boot order=n,reboot-timeout=0 > \(consolePath) 2>&1 < /dev/null"
            let result = await runTool("/bin/sh", ["-c", command], timeout: .seconds(40))
            let text = (try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? ""
            #expect(!result.timedOut, "qemu ran past 40 s: \(cleanConsole(text).suffix(2000))")
            return cleanConsole(text)
        }

        #expect(console.contains("rackswarm: node \(node) (52:54:00:12:34:56) installs lab@1"),
                "the per-node script's marker is missing:\n\(console.suffix(3000))")
        #expect(console.contains("rackswarm: node \(node) could not boot its install kernel"),
                "the script's failure path did not run:\n\(console.suffix(3000))")
        let served = await log.served
        #expect(served.contains { $0.path == "/ipxe/01-52-54-00-12-34-56" && $0.status == 200 },
                "served: \(served)")
        #expect(served.contains { $0.path == "/boot/vmlinuz" && $0.status == 200 }, "served: \(served)")
    }

    /// After install the entry flips to local boot: the same firmware now gets the local-boot script.
    @Test(.timeLimit(.minutes(1)))
    func anInstalledNodeIsSentToItsDisk() async throws {
        let qemu = try #require(tool("qemu-system-x86_64"), "qemu-system-x86 is not installed (boot.apt)")
        let directory = try TemporaryDirectory("rackswarm-qemu")
        let tftpRoot = try directory.subdirectory("tftp")
        let httpRoot = try directory.subdirectory("http")
        let log = RequestLog()
        let node = "qemu-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let console = try await withBootServer(httpRoot: httpRoot, log: log) { port in
            let server = BootServerAddress(host: "10.0.2.2", httpPort: port)
            let driver = FileBootDriver(tftpRoot: tftpRoot, httpRoot: httpRoot, server: server,
                                        logger: Logger(label: "test.boot"))
            try await driver.writeSiteFiles()
            try await driver.write(BootEntry(node: node, mac: "52:54:00:12:34:57", ip: "10.0.2.15", loader: .ipxe,
                                             mode: .localBoot))
            let consolePath = directory.path + "/console.txt"
            let command = "exec \(qemu) -accel tcg -m 256 -vga none -nographic -no-reboot "
                + "-netdev user,id=n0,tftp=\(tftpRoot),bootfile=rackswarm.ipxe "
                + "-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:57 "
                + "-boot order=n,reboot-timeout=0 > \(consolePath) 2>&1 < /dev/null"
            let result = await runTool("/bin/sh", ["-c", command], timeout: .seconds(40))
            let text = (try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? ""
            #expect(!result.timedOut, "qemu ran past 40 s: \(cleanConsole(text).suffix(2000))")
            return cleanConsole(text)
        }
        #expect(console.contains("rackswarm: node \(node) (52:54:00:12:34:57) boots from disk"),
                "the local-boot marker is missing:\n\(console.suffix(3000))")
        let served = await log.served
        #expect(served.contains { $0.path == "/ipxe/01-52-54-00-12-34-57" && $0.status == 200 }, "served: \(served)")
        #expect(!served.contains { $0.path.hasPrefix("/boot/") }, "an installed node fetched a kernel: \(served)")
    }
}
