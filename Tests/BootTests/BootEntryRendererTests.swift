import Drivers
import Foundation
import LabSupport
import Testing

/// Each loader's entry parses back to the kernel, initrd and arguments it was made from.
struct BootEntryRendererTests {
    let renderer = BootEntryRenderer(server: Fixtures.server)

    @Test func pxelinuxEntryParsesBack() throws {
        let entry = Fixtures.install("r1n1", mac: "52:54:00:AA:00:01", ip: "10.77.0.11", loader: .pxelinux)
        let files = try renderer.files(for: entry)
        #expect(files.map(\.path) == ["pxelinux.cfg/01-52-54-00-aa-00-01", "ipxe/01-52-54-00-aa-00-01.ipxe"])
        #expect(files[1].contents.contains("\nchain /pxelinux.0 || exit 1\n"))
        let text = try #require(files.first).contents
        #expect(text.hasPrefix(BootEntryRenderer.marker))
        var keywords: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let trimmed = line.drop { $0 == " " }
            let parts = trimmed.split(separator: " ", maxSplits: 1)
            keywords[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        #expect(keywords["DEFAULT"] == "install")
        #expect(keywords["KERNEL"] == "boot/vmlinuz")
        #expect(keywords["INITRD"] == "boot/initrd.img")
        let append = try #require(keywords["APPEND"]).split(separator: " ").map(String.init)
        let arguments = try #require(InstallArguments(parsing: append))
        #expect(arguments == InstallArguments(node: "r1n1", imageReference: "centos-7@7.9", sha256: Fixtures.sha,
                                              server: Fixtures.server))
        #expect(arguments.torrentURL == "http://10.77.0.1:8080/torrents/centos-7@7.9.torrent")
        #expect(arguments.trackerURL == "http://10.77.0.1:8080/announce")
        #expect(arguments.reportURL == "http://10.77.0.1:8080/report/r1n1")
        #expect(append.prefix(2) == ["console=ttyS0", "quiet"])
    }

    @Test func pxelinuxLocalBootUsesLocalboot() throws {
        let entry = BootEntry(node: "r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .pxelinux,
                              mode: .localBoot)
        let text = renderer.pxelinux(entry)
        #expect(text.contains("DEFAULT local\n"))
        #expect(text.contains("LOCALBOOT 0"))
        #expect(!text.contains("KERNEL"))
    }

    @Test(arguments: [false, true])
    func grubEntryPassesGrubScriptCheckAndParsesBack(localBoot: Bool) async throws {
        let checker = try #require(tool("grub-script-check"), "grub-common is not installed (boot.apt)")
        var entry = Fixtures.install("r2n3", mac: "52:54:00:77:02:03", ip: "10.77.0.23", loader: .grub,
                                     extra: ["console=ttyS0,115200", "root=LABEL=a;b", "x=$HOME", "a{b}|c&d"])
        if localBoot { entry.mode = .localBoot }
        let files = try renderer.files(for: entry)
        #expect(files.map(\.path) == ["grub/grub.cfg-01-52-54-00-77-02-03", "ipxe/01-52-54-00-77-02-03.ipxe"])
        #expect(files[1].contents.contains("\nchain /grub/grubnetx64.efi || exit 1\n"))
        let directory = try TemporaryDirectory()
        try directory.write("grub.cfg", Data(try #require(files.first).contents.utf8))
        let result = await runTool(checker, [directory.path + "/grub.cfg"], timeout: .seconds(10))
        #expect(result.succeeded, "grub-script-check: \(result.output)")
        let text = try #require(files.first).contents
        if localBoot {
            #expect(text.contains("    exit\n"))
            return
        }
        let linux = try #require(text.split(separator: "\n").first { $0.hasPrefix("    linux ") })
        let words = grubWords(String(linux))
        #expect(words.first == "linux" && words.dropFirst().first == "/boot/vmlinuz")
        guard case .install(let install) = entry.mode else { return }
        #expect(Array(words.dropFirst(2)) == install.arguments)
        #expect(text.contains("    initrd /boot/initrd.img\n"))
    }

    @Test func grubScriptCheckRejectsABrokenEntry() async throws {
        let checker = try #require(tool("grub-script-check"), "grub-common is not installed (boot.apt)")
        let directory = try TemporaryDirectory()
        try directory.write("grub.cfg", Data("menuentry 'x' {\n    linux /k 'unterminated\n".utf8))
        let result = await runTool(checker, [directory.path + "/grub.cfg"], timeout: .seconds(10))
        #expect(!result.succeeded)
    }

    @Test func ipxeScriptEchoesAMarkerAndFallsBackToTheFirmware() throws {
        let entry = Fixtures.install("r1n4", mac: "52-54-00-77-01-04", ip: "10.77.0.14", loader: .ipxe)
        let files = try renderer.files(for: entry)
        #expect(files.map { "\($0.root.rawValue):\($0.path)" }
                == ["tftp:ipxe/01-52-54-00-77-01-04.ipxe", "http:ipxe/01-52-54-00-77-01-04.ipxe"])
        #expect(files[0].contents.contains("chain http://10.77.0.1:8080/ipxe/01-52-54-00-77-01-04 || exit 1"))
        let script = files[1].contents.split(separator: "\n").map(String.init)
        #expect(script.first == "#!ipxe")
        #expect(script.contains("echo rackswarm: node r1n4 (52:54:00:77:01:04) installs centos-7@7.9"))
        let kernel = try #require(script.first { $0.hasPrefix("kernel ") }).split(separator: " ").map(String.init)
        #expect(kernel[1] == "http://10.77.0.1:8080/boot/vmlinuz")
        #expect(kernel.suffix(3) == ["||", "goto", "failed"])
        #expect(InstallArguments(parsing: kernel) != nil)
        #expect(script.contains("initrd http://10.77.0.1:8080/boot/initrd.img || goto failed"))
        #expect(script.last == "exit 1")
        #expect(renderer.ipxeDispatcher().contents.contains("chain ipxe/01-${mac:hexhyp}.ipxe"))
    }

    @Test func argumentsWithWhitespaceAreRefusedNamingTheNode() throws {
        let entry = Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .pxelinux,
                                     extra: ["inst.ks=a b"])
        let error = try #require(throws: BootError.self) { try renderer.files(for: entry) }
        #expect(error.code == .invalidArgument && error.node == "r1n1")
        #expect(error.description.contains("r1n1") && error.description.contains("inst.ks=a b"))
    }

    /// The check reads bytes, and scalars only for non-ASCII words: Unicode whitespace and line breaks are still
    /// refused, other non-ASCII text is written.
    @Test(arguments: ["a\u{A0}b", "a\u{2028}b", "a\u{85}b", "a\u{3000}b", "a\tb", "a\r\nb", "it's", "say\"x\"", ""])
    func unwritableArgumentsAreRefused(argument: String) throws {
        let entry = Fixtures.install("r1n1", mac: "52:54:00:aa:00:01", ip: "10.77.0.11", loader: .ipxe,
                                     extra: [argument])
        let error = try #require(throws: BootError.self) { try BootEntryRenderer.check(entry) }
        #expect(error.code == .invalidArgument && error.path == argument)
    }

    @Test(arguments: ["café=crème", "label=ラベル", "x=1"])
    func otherArgumentsAreWritten(argument: String) throws {
        let entry = Fixtures.install("r1n1", mac: "52:54:00:AA:00:01", ip: "10.77.0.11", loader: .ipxe,
                                     extra: [argument])
        #expect(throws: Never.self) { try BootEntryRenderer.check(entry) }
        #expect(entry.mac == "52:54:00:aa:00:01")
    }

    /// GRUB's word splitting for the subset the renderer writes: bare words and single-quoted runs.
    func grubWords(_ line: String) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quoted = false
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            if quoted {
                if character == "'" { quoted = false } else { word.append(character) }
            } else if character == "'" {
                quoted = true
                inWord = true
            } else if character == "\\" {
                if let next = iterator.next() { word.append(next) }
                inWord = true
            } else if character == " " {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(character)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }
}
