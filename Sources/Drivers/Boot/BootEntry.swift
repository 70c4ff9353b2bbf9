import Foundation

/// What one node's network boot entry says, in plain values: the driver renders it for the node's boot loader.
public struct BootEntry: Sendable, Hashable, Codable {
    /// The program the node's firmware loads over the network, which then reads the entry.
    public enum Loader: String, Sendable, Hashable, Codable, CaseIterable {
        /// BIOS PXE with SYSLINUX's pxelinux: `pxelinux.cfg/01-aa-bb-cc-dd-ee-ff` over TFTP.
        case pxelinux
        /// UEFI GRUB: `grub/grub.cfg-01-aa-bb-cc-dd-ee-ff` over TFTP.
        case grub
        /// iPXE: a script served over HTTP per MAC, with a TFTP chain entry for plain PXE ROMs.
        case ipxe
    }

    /// Install the image, or boot from the local disk once the node is installed.
    public enum Mode: Sendable, Hashable, Codable {
        case install(InstallKernel)
        case localBoot
    }

    public var node: String
    /// Lower-case, colon-separated MAC: `52:54:00:aa:00:01`.
    public var mac: String
    public var ip: String
    public var loader: Loader
    public var mode: Mode

    public init(node: String, mac: String, ip: String, loader: Loader, mode: Mode) {
        self.node = node
        self.mac = PXEName.colonForm(mac) ?? mac.lowercased()
        self.ip = ip
        self.loader = loader
        self.mode = mode
    }

    /// `01-52-54-00-aa-00-01`: the name PXE loaders look their per-host file up by.
    public var pxeName: String { PXEName.from(mac) ?? "01-" + mac.replacingOccurrences(of: ":", with: "-") }
}

/// The install kernel an entry boots, with the arguments that tell the install environment what to do.
public struct InstallKernel: Sendable, Hashable, Codable {
    /// `name@version` of the image, shown in menus and markers.
    public var imageReference: String
    /// Path of the kernel, relative to the boot root the loader fetches from (TFTP or HTTP root).
    public var kernel: String
    public var initrd: String
    /// The whole kernel command line, one argument per element.
    public var arguments: [String]

    public init(imageReference: String, kernel: String, initrd: String, arguments: [String]) {
        self.imageReference = imageReference
        self.kernel = kernel
        self.initrd = initrd
        self.arguments = arguments
    }
}

/// Where the reconciler's HTTP server is, as nodes on the provisioning network see it.
public struct BootServerAddress: Sendable, Hashable, Codable {
    public var host: String
    public var httpPort: Int

    public init(host: String, httpPort: Int) {
        self.host = host
        self.httpPort = httpPort
    }

    /// `http://10.77.0.1:8080`, no trailing slash.
    public var httpBase: String { httpPort == 80 ? "http://\(host)" : "http://\(host):\(httpPort)" }

    /// The URL of a file under the HTTP root; `path` is relative.
    public func fileURL(_ path: String) -> String {
        httpBase + "/" + path.split(separator: "/").map(String.init).joined(separator: "/")
    }

    /// The per-MAC iPXE script: `http://10.77.0.1:8080/ipxe/01-52-54-00-aa-00-01`.
    public func ipxeScriptURL(pxeName: String) -> String { "\(httpBase)/ipxe/\(pxeName)" }
}

/// The `rackswarm.*` kernel arguments every install entry carries (documented in docs/network-boot.md).
public struct InstallArguments: Sendable, Hashable, Codable {
    public var node: String
    public var torrentURL: String
    public var trackerURL: String
    public var sha256: String
    public var reportURL: String

    public init(node: String, torrentURL: String, trackerURL: String, sha256: String, reportURL: String) {
        self.node = node
        self.torrentURL = torrentURL
        self.trackerURL = trackerURL
        self.sha256 = sha256
        self.reportURL = reportURL
    }

    /// The arguments as the server lays them out for one node and image.
    public init(node: String, imageReference: String, sha256: String, server: BootServerAddress) {
        self.init(
            node: node, torrentURL: server.fileURL("torrents/\(imageReference).torrent"),
            trackerURL: "\(server.httpBase)/announce", sha256: sha256,
            reportURL: "\(server.httpBase)/report/\(node)")
    }

    /// `rackswarm.node=… rackswarm.torrent=… rackswarm.tracker=… rackswarm.sha256=… rackswarm.report=…`.
    public var rendered: [String] {
        [
            "rackswarm.node=\(node)", "rackswarm.torrent=\(torrentURL)", "rackswarm.tracker=\(trackerURL)",
            "rackswarm.sha256=\(sha256)", "rackswarm.report=\(reportURL)",
        ]
    }

    /// Reads the `rackswarm.*` arguments back from a kernel command line; nil when one is missing.
    public init?(parsing arguments: [String]) {
        var values: [String: String] = [:]
        for argument in arguments where argument.hasPrefix("rackswarm.") {
            guard let equals = argument.firstIndex(of: "=") else { continue }
            values[String(argument[argument.index(argument.startIndex, offsetBy: 10)..<equals])] =
                String(argument[argument.index(after: equals)...])
        }
        guard let node = values["node"], let torrent = values["torrent"], let tracker = values["tracker"],
            let sha256 = values["sha256"], let report = values["report"]
        else { return nil }
        self.init(node: node, torrentURL: torrent, trackerURL: tracker, sha256: sha256, reportURL: report)
    }
}

/// Converts MAC spellings to the PXE file-name form and back.
public enum PXEName {
    /// `01-aa-bb-cc-dd-ee-ff` from `aa:bb:cc:dd:ee:ff`, `aa-bb-…`, `01-aa-bb-…`, `aabbccddeeff` (any case), with an
    /// optional `.ipxe` suffix; nil for anything else.
    public static func from(_ text: String) -> String? {
        guard let bytes = hexBytes(text) else { return nil }
        return "01-" + bytes.joined(separator: "-")
    }

    /// `aa:bb:cc:dd:ee:ff` from any spelling `from(_:)` accepts.
    public static func colonForm(_ text: String) -> String? {
        hexBytes(text)?.joined(separator: ":")
    }

    private static func hexBytes(_ text: String) -> [String]? {
        var text = text.lowercased()
        if text.hasSuffix(".ipxe") { text.removeLast(5) }
        var digits = text.filter { $0 != ":" && $0 != "-" }
        let separators = text.count - digits.count
        if digits.count == 14 && text.hasPrefix("01") && (separators == 0 || separators == 6) {
            digits.removeFirst(2)
        }
        guard digits.count == 12, separators == 0 || separators == 5 || separators == 6,
            digits.allSatisfy({ $0.isHexDigit && $0.isASCII })
        else { return nil }
        var groups: [String] = []
        var index = digits.startIndex
        for _ in 0..<6 {
            let next = digits.index(index, offsetBy: 2)
            groups.append(String(digits[index..<next]))
            index = next
        }
        if separators > 0 {
            // Separators must sit between the groups: rebuild and compare, so `a:abb:…` is refused.
            let rebuilt = (separators == 6 ? ["01"] : []) + groups
            let normal = text.replacingOccurrences(of: ":", with: "-")
            guard normal == rebuilt.joined(separator: "-") else { return nil }
        }
        return groups
    }
}
