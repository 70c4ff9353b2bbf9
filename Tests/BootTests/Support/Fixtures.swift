import Drivers

/// Entries and servers the boot tests share.
enum Fixtures {
    static let server = BootServerAddress(host: "10.77.0.1", httpPort: 8080)
    static let sha = String(repeating: "3f", count: 32)

    static func install(_ node: String, mac: String, ip: String, loader: BootEntry.Loader,
                        extra: [String] = ["console=ttyS0", "quiet"]) -> BootEntry {
        let arguments = InstallArguments(node: node, imageReference: "centos-7@7.9", sha256: sha, server: server)
        return BootEntry(node: node, mac: mac, ip: ip, loader: loader, mode: .install(InstallKernel(
            imageReference: "centos-7@7.9", kernel: "boot/vmlinuz", initrd: "boot/initrd.img",
            arguments: extra + arguments.rendered)))
    }
}
