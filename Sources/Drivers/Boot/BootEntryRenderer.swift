import Foundation
import MemberwiseInit

/// The boot programs in the TFTP root, by role (relative paths).
///
/// Every node's firmware first runs iPXE (DHCP picks the build by architecture); iPXE runs the site dispatcher,
/// which chains the node's per-MAC script, which loads the node's own loader.
public struct BootLoaderFiles: Sendable, Hashable, Codable {
    /// iPXE for BIOS PXE ROMs.
    public var biosIPXE = "undionly.kpxe"
    /// iPXE for x86-64 UEFI firmware.
    public var uefiIPXE = "ipxe.efi"
    /// The script iPXE clients get from DHCP: `rackswarm.ipxe`.
    public var dispatcher = "rackswarm.ipxe"
    public var pxelinux = "pxelinux.0"
    public var grub = "grub/grubnetx64.efi"

    /// The files as the iPXE and loader builds name them.
    public static let standard = BootLoaderFiles()
}

/// Renders boot entries as the text each boot loader reads. Pure: no files, no clock.
@PublicMemberwiseInit
public struct BootEntryRenderer: Sendable {
    public var server: BootServerAddress
    public var loaderFiles: BootLoaderFiles = .standard

    /// The first line of every file rackswarm writes, after a loader's own magic line.
    public static let marker = "# Managed by rackswarm; do not edit: rewritten and removed by reconcile."

    /// One file of an entry: where it goes (relative to its root) and what it holds.
    public struct File: Sendable, Hashable {
        public enum Root: String, Sendable, Hashable, Codable {
            case tftp
            case http
        }

        public var root: Root
        public var path: String
        public var contents: String
    }

    /// Every file the entry needs, for its loader.
    public func files(for entry: BootEntry) throws(BootError) -> [File] {
        try Self.check(entry)
        let contents = switch entry.loader {
        case .pxelinux: [pxelinux(entry), ipxeChain(entry)]
        case .grub: [grub(entry), ipxeChain(entry)]
        case .ipxe: [ipxeChain(entry), ipxe(entry)]
        }
        return zip(Self.locations(loader: entry.loader, pxeName: entry.pxeName), contents).map { place, text in
            File(root: place.root, path: place.path, contents: text)
        }
    }

    /// Where a loader's entry files go (root, relative path), in the order `files(for:)` gives them, for the
    /// per-MAC name `pxeName` (`01-52-54-00-aa-00-01`): no file is rendered.
    public static func locations(loader: BootEntry.Loader, pxeName: String) -> [(root: File.Root, path: String)] {
        let chain = (root: File.Root.tftp, path: "ipxe/\(pxeName).ipxe")
        switch loader {
        case .pxelinux: return [(.tftp, "pxelinux.cfg/\(pxeName)"), chain]
        case .grub: return [(.tftp, "grub/grub.cfg-\(pxeName)"), chain]
        case .ipxe: return [chain, (.http, "ipxe/\(pxeName).ipxe")]
        }
    }

    /// The site-wide TFTP script an iPXE client gets from DHCP: it chains the per-MAC entry.
    public func ipxeDispatcher() -> File {
        File(root: .tftp, path: loaderFiles.dispatcher, contents: """
            #!ipxe
            \(Self.marker)
            chain ipxe/01-${mac:hexhyp}.ipxe || exit 1

            """)
    }

    /// `pxelinux.cfg/01-…`: one label, no prompt.
    public func pxelinux(_ entry: BootEntry) -> String {
        var text = "\(Self.marker)\n# node \(entry.node) (\(entry.mac))\nPROMPT 0\nTIMEOUT 0\n"
        switch entry.mode {
        case .install(let install):
            text += """
                DEFAULT install
                LABEL install
                  MENU LABEL rackswarm: install \(install.imageReference) on \(entry.node)
                  KERNEL \(install.kernel)
                  INITRD \(install.initrd)
                  APPEND \(install.arguments.joined(separator: " "))
                  IPAPPEND 2

                """
        case .localBoot:
            text += "DEFAULT local\nLABEL local\n  MENU LABEL rackswarm: \(entry.node) boots from disk\n  LOCALBOOT 0\n"
        }
        return text
    }

    /// `grub/grub.cfg-01-…`: one menu entry, no timeout. Arguments are quoted for GRUB's shell-like parser.
    public func grub(_ entry: BootEntry) -> String {
        var text = "\(Self.marker)\n# node \(entry.node) (\(entry.mac))\nset default=0\nset timeout=0\n"
        switch entry.mode {
        case .install(let install):
            let arguments = install.arguments.map(Self.grubQuoted).joined(separator: " ")
            text += """
                menuentry \(Self.grubQuoted("rackswarm: install \(install.imageReference) on \(entry.node)")) {
                    linux /\(Self.trimmed(install.kernel)) \(arguments)
                    initrd /\(Self.trimmed(install.initrd))
                }

                """
        case .localBoot:
            text += """
                menuentry \(Self.grubQuoted("rackswarm: \(entry.node) boots from disk")) {
                    exit
                }

                """
        }
        return text
    }

    /// The kernel argument naming the interface iPXE booted from, as pxelinux's `IPAPPEND 2` writes it
    /// (`BOOTIF=01-aa-bb-cc-dd-ee-ff`): the install environment brings up that interface.
    public static let ipxeBootInterface = "BOOTIF=01-${netX/mac:hexhyp}"

    /// The per-MAC iPXE script served over HTTP. It echoes a marker line first, and falls back to the firmware's
    /// next boot device (`exit 1`) if any step fails.
    public func ipxe(_ entry: BootEntry) -> String {
        var text = "#!ipxe\n\(Self.marker)\n"
        switch entry.mode {
        case .install(let install):
            let arguments = (install.arguments + [Self.ipxeBootInterface]).joined(separator: " ")
            text += """
                echo rackswarm: node \(entry.node) (\(entry.mac)) installs \(install.imageReference)
                kernel \(server.fileURL(install.kernel)) \(arguments) || goto failed
                initrd \(server.fileURL(install.initrd)) || goto failed
                boot || goto failed
                :failed
                echo rackswarm: node \(entry.node) could not boot its install kernel
                exit 1

                """
        case .localBoot:
            text += """
                echo rackswarm: node \(entry.node) (\(entry.mac)) boots from disk
                sanboot --no-describe --drive 0x80 || exit 1

                """
        }
        return text
    }

    /// The per-MAC TFTP script the dispatcher chains: it loads the node's own loader (pxelinux and GRUB then
    /// read their per-MAC file), or, for iPXE nodes, the per-MAC script over HTTP.
    public func ipxeChain(_ entry: BootEntry) -> String {
        let target: String
        switch entry.loader {
        case .pxelinux: target = "/" + BootEntryRenderer.trimmed(loaderFiles.pxelinux)
        case .grub: target = "/" + BootEntryRenderer.trimmed(loaderFiles.grub)
        case .ipxe: target = server.ipxeScriptURL(pxeName: entry.pxeName)
        }
        return "#!ipxe\n\(Self.marker)\n# node \(entry.node) (\(entry.loader.rawValue))\nchain \(target) || exit 1\n"
    }

    /// Refuses entries that cannot be written faithfully: every loader splits the command line on whitespace.
    /// Byte-level: an all-ASCII word (the usual case) is checked byte by byte; only a word with other bytes is
    /// looked at scalar by scalar, for Unicode whitespace.
    public static func check(_ entry: BootEntry) throws(BootError) {
        guard PXEName.colonForm(entry.mac) != nil else {
            throw BootError(.invalidAddress, node: entry.node, path: entry.mac,
                            "MAC address '\(entry.mac)' is not valid")
        }
        guard isWritableWord(entry.node) else {
            throw BootError(.invalidArgument, node: entry.node, path: "", "node name cannot go into a boot entry")
        }
        guard case .install(let install) = entry.mode else { return }
        for argument in install.arguments + [install.kernel, install.initrd]
        where argument.isEmpty || !isWritableWord(argument) {
            throw BootError(.invalidArgument, node: entry.node, path: argument,
                            "kernel argument or path '\(argument)' has whitespace or quotes, or is empty")
        }
    }

    /// True when `word` has no whitespace, line break or quote (`'`, `"`); an empty word passes. Bytes first;
    /// the scalars only of a word with non-ASCII bytes, for Unicode whitespace (U+00A0, U+2028, …).
    static func isWritableWord(_ word: String) -> Bool {
        switch word.utf8.withContiguousStorageIfAvailable(scan) ?? scan(word.utf8) {
        case .refused: return false
        case .ascii: return true
        case .unicode: return !word.unicodeScalars.contains { $0.properties.isWhitespace }
        }
    }

    private enum Scan {
        case ascii, unicode, refused
    }

    private static func scan<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Scan {
        var result = Scan.ascii
        for byte in bytes {
            switch byte {
            case 0x09...0x0D, 0x20, 0x22, 0x27: return .refused
            case 0x80...: result = .unicode
            default: continue
            }
        }
        return result
    }

    static func trimmed(_ path: String) -> String {
        String(path.drop { $0 == "/" })
    }

    /// Single-quotes a word for GRUB unless it only holds characters GRUB reads literally.
    static func grubQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=,@+%".contains($0)) }
        if plain && !word.isEmpty { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
