import Foundation

/// Renders boot entries as the text each boot loader reads. Pure: no files, no clock.
public struct BootEntryRenderer: Sendable {
    public var server: BootServerAddress

    public init(server: BootServerAddress) {
        self.server = server
    }

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
        switch entry.loader {
        case .pxelinux:
            return [File(root: .tftp, path: "pxelinux.cfg/\(entry.pxeName)", contents: pxelinux(entry))]
        case .grub:
            return [File(root: .tftp, path: "grub/grub.cfg-\(entry.pxeName)", contents: grub(entry))]
        case .ipxe:
            return [
                File(root: .tftp, path: "ipxe/\(entry.pxeName).ipxe", contents: ipxeChain(entry)),
                File(root: .http, path: "ipxe/\(entry.pxeName).ipxe", contents: ipxe(entry)),
            ]
        }
    }

    /// The site-wide TFTP script an iPXE client gets from DHCP: it chains the per-MAC entry.
    public func ipxeDispatcher() -> File {
        File(root: .tftp, path: "rackswarm.ipxe", contents: """
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

    /// The per-MAC iPXE script served over HTTP. It echoes a marker line first, and falls back to the firmware's
    /// next boot device (`exit 1`) if any step fails.
    public func ipxe(_ entry: BootEntry) -> String {
        var text = "#!ipxe\n\(Self.marker)\n"
        switch entry.mode {
        case .install(let install):
            text += """
                echo rackswarm: node \(entry.node) (\(entry.mac)) installs \(install.imageReference)
                kernel \(server.fileURL(install.kernel)) \(install.arguments.joined(separator: " ")) || goto failed
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

    /// The per-MAC TFTP script for nodes whose PXE ROM runs iPXE from TFTP: it chains the HTTP script.
    public func ipxeChain(_ entry: BootEntry) -> String {
        "#!ipxe\n\(Self.marker)\nchain \(server.ipxeScriptURL(pxeName: entry.pxeName)) || exit 1\n"
    }

    /// Refuses entries that cannot be written faithfully: every loader splits the command line on whitespace.
    static func check(_ entry: BootEntry) throws(BootError) {
        guard PXEName.from(entry.mac) != nil else {
            throw BootError(.invalidAddress, node: entry.node, path: entry.mac, "MAC address '\(entry.mac)' is not valid")
        }
        guard entry.node.allSatisfy({ !$0.isWhitespace && !$0.isNewline && $0 != "'" && $0 != "\"" }) else {
            throw BootError(.invalidArgument, node: entry.node, path: "", "node name cannot go into a boot entry")
        }
        guard case .install(let install) = entry.mode else { return }
        for argument in install.arguments + [install.kernel, install.initrd]
        where argument.isEmpty || argument.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "'" || $0 == "\"" })
        {
            throw BootError(.invalidArgument, node: entry.node, path: argument,
                            "kernel argument or path '\(argument)' has whitespace or quotes, or is empty")
        }
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
