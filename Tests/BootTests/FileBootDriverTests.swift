import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// The file driver writes, flips, removes and prunes only its own files, and names the node and file on errors.
struct FileBootDriverTests {
    let directory: TemporaryDirectory
    let driver: FileBootDriver

    init() throws {
        directory = try TemporaryDirectory()
        let tftp = try directory.subdirectory("tftp")
        let http = try directory.subdirectory("http")
        for root in ["tftp", "http"] {
            try directory.write("\(root)/boot/vmlinuz", Data("kernel".utf8))
            try directory.write("\(root)/boot/initrd.img", Data("initrd".utf8))
        }
        driver = FileBootDriver(tftpRoot: tftp, httpRoot: http, server: Fixtures.server,
                                logger: Logger(label: "test.boot"))
    }

    @Test func writesFlipsToLocalBootAndRecordsTheManifest() async throws {
        let entry = Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .pxelinux)
        let written = try await driver.write(entry)
        #expect(written == [directory.path + "/tftp/pxelinux.cfg/01-52-54-00-aa-00-01",
                            directory.path + "/tftp/ipxe/01-52-54-00-aa-00-01.ipxe"])
        #expect(try directory.read("tftp/pxelinux.cfg/01-52-54-00-aa-00-01").contains("KERNEL boot/vmlinuz"))
        var local = entry
        local.mode = .localBoot
        try await driver.write(local)
        let text = try directory.read("tftp/pxelinux.cfg/01-52-54-00-aa-00-01")
        #expect(text.contains("LOCALBOOT 0") && !text.contains("KERNEL"))
        let manifest = try await driver.manifest()
        #expect(manifest.nodes["r1n1"]?.files == [.init(root: .tftp, path: "ipxe/01-52-54-00-aa-00-01.ipxe"),
                                                  .init(root: .tftp, path: "pxelinux.cfg/01-52-54-00-aa-00-01")])
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: directory.path)
            .filter { $0.contains("rackswarm-tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func changingTheLoaderRemovesTheOldFiles() async throws {
        try await driver.write(Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .ipxe))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/http/ipxe/01-52-54-00-aa-00-01.ipxe"))
        try await driver.write(Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .grub))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/http/ipxe/01-52-54-00-aa-00-01.ipxe"))
        #expect(try directory.read("tftp/ipxe/01-52-54-00-aa-00-01.ipxe").contains("chain /grub/grubnetx64.efi"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/tftp/grub/grub.cfg-01-52-54-00-aa-00-01"))
    }

    @Test func pruneRemovesNodesThatLeftAndNeverAnOperatorsFile() async throws {
        try directory.write("tftp/pxelinux.cfg/default", Data("DEFAULT local\n".utf8))
        try directory.write("tftp/pxelinux.cfg/01-52-54-00-ff-ff-ff", Data("hand-written\n".utf8))
        try await driver.write(Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .pxelinux))
        try await driver.write(Fixtures.install("r1n2", mac: "52:54:00:aa:00:02", ip: "10.77.0.12", loader: .ipxe))
        let pruned = try await driver.prune(keeping: ["r1n1"])
        #expect(pruned == ["r1n2"])
        #expect(FileManager.default.fileExists(atPath: directory.path + "/tftp/pxelinux.cfg/01-52-54-00-aa-00-01"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/tftp/ipxe/01-52-54-00-aa-00-02.ipxe"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/http/ipxe/01-52-54-00-aa-00-02.ipxe"))
        #expect(try directory.read("tftp/pxelinux.cfg/default") == "DEFAULT local\n")
        #expect(try directory.read("tftp/pxelinux.cfg/01-52-54-00-ff-ff-ff") == "hand-written\n")
        #expect(try await driver.prune(keeping: []) == ["r1n1"])
        #expect(try directory.read("tftp/pxelinux.cfg/default") == "DEFAULT local\n")
        #expect(try await driver.manifest().nodes.isEmpty)
    }

    @Test func anOperatorsFileInTheWayIsNotReplaced() async throws {
        try directory.write("tftp/pxelinux.cfg/01-52-54-00-aa-00-01", Data("hand-written\n".utf8))
        let error = try await #require(throws: BootError.self) {
            try await driver.write(Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11",
                                                    loader: .pxelinux))
        }
        #expect(error.code == .unmanagedFile && error.node == "r1n1")
        #expect(error.path == directory.path + "/tftp/pxelinux.cfg/01-52-54-00-aa-00-01")
        #expect(try directory.read("tftp/pxelinux.cfg/01-52-54-00-aa-00-01") == "hand-written\n")
    }

    @Test(arguments: [("boot/missing-vmlinuz", "boot/initrd.img", "kernel"),
                      ("boot/vmlinuz", "boot/missing-initrd", "initrd")])
    func aMissingKernelOrInitrdNamesTheNodeAndFileAndOthersGoOn(kernel: String, initrd: String, what: String)
        async throws
    {
        let bad = BootEntry(node: "r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .grub, mode: .install(
            InstallKernel(imageReference: "centos-7@7.9", kernel: kernel, initrd: initrd, arguments: ["quiet"])))
        let error = try await #require(throws: BootError.self) { try await driver.write(bad) }
        #expect(error.code == .missingFile && error.node == "r1n1")
        #expect(error.path == directory.path + "/tftp/" + (what == "kernel" ? kernel : initrd))
        #expect(error.description.contains("r1n1") && error.description.contains(error.path)
                && error.description.contains(what))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/tftp/grub/grub.cfg-01-52-54-00-aa-00-01"))
        try await driver.write(Fixtures.install("r1n2", mac: "52:54:00:aa:00:02", ip: "10.77.0.12", loader: .grub))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/tftp/grub/grub.cfg-01-52-54-00-aa-00-02"))
    }

    @Test func anUnwritableBootDirectoryNamesTheNodeAndPath() async throws {
        // Tests run as root, so permissions do not stop a write: make the root's parent a regular file instead.
        try directory.write("blocker", Data("not a directory".utf8))
        try directory.write("http/boot/vmlinuz", Data("k".utf8))
        let driver = FileBootDriver(tftpRoot: directory.path + "/blocker/tftp", httpRoot: directory.path + "/http",
                                    server: Fixtures.server, manifestPath: directory.path + "/manifest.json",
                                    logger: Logger(label: "test.boot"))
        let error = try await #require(throws: BootError.self) {
            try await driver.write(Fixtures.install("r1n9", mac: "52:54:00:aa:00:09", ip: "10.77.0.19",
                                                    loader: .ipxe))
        }
        #expect(error.code == .unwritable && error.node == "r1n9")
        #expect(error.path.hasPrefix(directory.path + "/blocker/tftp"))
        #expect(error.description.contains("r1n9") && error.description.contains("blocker/tftp"))
    }

    @Test func theSameMACForTwoNodesIsRefused() async throws {
        try await driver.write(Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .pxelinux))
        let error = try await #require(throws: BootError.self) {
            try await driver.write(Fixtures.install("r1n2", mac: "52:54:00:AA:00:01", ip: "10.77.0.12",
                                                    loader: .pxelinux))
        }
        #expect(error.code == .macCollision && error.node == "r1n2" && error.description.contains("r1n1"))
        #expect(try directory.read("tftp/pxelinux.cfg/01-52-54-00-aa-00-01").contains("rackswarm.node=r1n1"))
    }

    @Test func collisionsNameEveryNodeInvolved() {
        let entries = [
            Fixtures.install("a", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .pxelinux),
            Fixtures.install("b", mac: "52-54-00-AA-00-01", ip: "10.77.0.12", loader: .grub),
            Fixtures.install("c", mac: "52:54:00:aa:00:03", ip: "10.77.0.12", loader: .ipxe),
            Fixtures.install("d", mac: "52:54:00:aa:00:04", ip: "10.77.0.14", loader: .ipxe),
        ]
        let errors = BootEntry.collisions(entries)
        #expect(Set(errors.keys) == ["a", "b", "c"])
        #expect(errors["a"]?.code == .macCollision && errors["a"]?.description.contains("'b'") == true)
        #expect(errors["b"]?.code == .macCollision)
        #expect(errors["c"]?.code == .ipCollision && errors["c"]?.description.contains("'b'") == true)
    }
}
