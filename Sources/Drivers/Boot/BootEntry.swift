import Foundation
import MemberwiseInit

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
@PublicMemberwiseInit
public struct InstallKernel: Sendable, Hashable, Codable {
    /// `name@version` of the image, shown in menus and markers.
    public var imageReference: String
    /// Path of the kernel, relative to the boot root the loader fetches from (TFTP or HTTP root).
    public var kernel: String
    public var initrd: String
    /// The whole kernel command line, one argument per element.
    public var arguments: [String]
}

/// Where the reconciler's HTTP server is, as nodes on the provisioning network see it.
@PublicMemberwiseInit
public struct BootServerAddress: Sendable, Hashable, Codable {
    public var host: String
    public var httpPort: Int

    /// `http://10.77.0.1:8080`, no trailing slash.
    public var httpBase: String { httpPort == 80 ? "http://\(host)" : "http://\(host):\(httpPort)" }

    /// The address an `httpBase` names (`http://HOST` or `http://HOST:PORT`); nil for anything else.
    public init?(httpBase: String) {
        guard let url = URLComponents(string: httpBase), url.scheme == "http", let host = url.host, !host.isEmpty,
            url.path.isEmpty || url.path == "/", url.query == nil
        else { return nil }
        self.init(host: host, httpPort: url.port ?? 80)
    }

    /// The URL of a file under the HTTP root; `path` is relative.
    public func fileURL(_ path: String) -> String {
        httpBase + "/" + path.split(separator: "/").map(String.init).joined(separator: "/")
    }

    /// The per-MAC iPXE script: `http://10.77.0.1:8080/ipxe/01-52-54-00-aa-00-01`.
    public func ipxeScriptURL(pxeName: String) -> String { "\(httpBase)/ipxe/\(pxeName)" }
}

/// The `rackswarm.*` kernel arguments every install entry carries (documented in docs/network-boot.md).
@PublicMemberwiseInit
public struct InstallArguments: Sendable, Hashable, Codable {
    public var node: String
    public var torrentURL: String
    public var trackerURL: String
    public var sha256: String
    public var reportURL: String
    /// The install's one-time token (`rackswarm.token=`), which the boot driver adds when it writes the entry.
    public var token: String?
    /// Other reconcilers' HTTP bases (`http://HOST:PORT`) to report to when the one these URLs name stops answering
    /// (`rackswarm.fallback=`, comma-separated): several reconcilers share the site, and any of them accepts the
    /// install's reports. Empty with one reconciler.
    public var fallbacks: [String] = []

    /// The arguments as the server lays them out for one node and image.
    public init(node: String, imageReference: String, sha256: String, server: BootServerAddress) {
        self.init(
            node: node, torrentURL: server.fileURL("torrents/\(imageReference).torrent"),
            trackerURL: "\(server.httpBase)/announce", sha256: sha256,
            reportURL: "\(server.httpBase)/report/\(node)")
    }

    /// The same arguments for another node of the same image and server: only the node and its report URL differ,
    /// so a site's entries share one computed template per image.
    public func forNode(_ node: String, server: BootServerAddress) -> InstallArguments {
        var arguments = self
        arguments.node = node
        arguments.reportURL = "\(server.httpBase)/report/\(node)"
        return arguments
    }

    /// `rackswarm.node=… rackswarm.torrent=… rackswarm.tracker=… rackswarm.sha256=… rackswarm.report=…`, then
    /// `rackswarm.fallback=…` when there are fallbacks and `rackswarm.token=…` when set.
    public var rendered: [String] {
        [
            "rackswarm.node=\(node)", "rackswarm.torrent=\(torrentURL)", "rackswarm.tracker=\(trackerURL)",
            "rackswarm.sha256=\(sha256)", "rackswarm.report=\(reportURL)",
        ] + (fallbacks.isEmpty ? [] : ["rackswarm.fallback=" + fallbacks.joined(separator: ",")])
            + (token.map { [InstallTokenMinter.argument($0)] } ?? [])
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
        self.init(node: node, torrentURL: torrent, trackerURL: tracker, sha256: sha256, reportURL: report,
                  token: values["token"].flatMap { $0.isEmpty ? nil : $0 },
                  fallbacks: (values["fallback"] ?? "").split(separator: ",").map(String.init))
    }
}

/// Converts MAC spellings to the PXE file-name form and back.
public enum PXEName {
    /// `01-aa-bb-cc-dd-ee-ff` from `aa:bb:cc:dd:ee:ff`, `aa-bb-…`, `01-aa-bb-…`, `aabbccddeeff` (any case), with an
    /// optional `.ipxe` suffix; nil for anything else.
    public static func from(_ text: String) -> String? {
        joined(text, prefix: "01-", separator: UInt8(ascii: "-"))
    }

    /// `aa:bb:cc:dd:ee:ff` from any spelling `from(_:)` accepts.
    public static func colonForm(_ text: String) -> String? {
        if isColonForm(text) { return text }
        return joined(text, prefix: "", separator: UInt8(ascii: ":"))
    }

    /// True for the form `colonForm` gives (`52:54:00:aa:00:01`, lower case): checked in place, nothing copied.
    static func isColonForm(_ text: String) -> Bool {
        let utf8 = text.utf8
        return utf8.count == 17 && utf8.withContiguousStorageIfAvailable { bytes in
            bytes.indices.allSatisfy { index in
                let byte = bytes[index]
                if index % 3 == 2 { return byte == UInt8(ascii: ":") }
                return (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102)
            }
        } == true
    }

    private static func joined(_ text: String, prefix: String, separator: UInt8) -> String? {
        guard let digits = hexDigits(text) else { return nil }
        var bytes = Array(prefix.utf8)
        bytes.reserveCapacity(bytes.count + 17)
        for pair in 0..<6 {
            if pair > 0 { bytes.append(separator) }
            bytes.append(digits[2 * pair])
            bytes.append(digits[2 * pair + 1])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The twelve lower-case hex digits of a MAC spelling, byte by byte; nil when it is not one. Separators must
    /// sit between the pairs, so `a:abb:…` is refused.
    private static func hexDigits(_ text: String) -> [UInt8]? {
        let colon = UInt8(ascii: ":")
        let dash = UInt8(ascii: "-")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(22)
        for byte in text.utf8 {
            guard byte < 0x80 else { return nil }  // no MAC spelling holds a non-ASCII character
            bytes.append(byte >= 65 && byte <= 90 ? byte | 0x20 : byte)
        }
        if bytes.count >= 5 && bytes.suffix(5).elementsEqual(".ipxe".utf8) { bytes.removeLast(5) }
        var digits: [UInt8] = []
        digits.reserveCapacity(14)
        var separators = 0
        for byte in bytes {
            if byte == colon || byte == dash { separators += 1 } else { digits.append(byte) }
        }
        if digits.count == 14 && bytes.starts(with: "01".utf8) && (separators == 0 || separators == 6) {
            digits.removeFirst(2)
        }
        let isHex = { (byte: UInt8) in (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) }
        guard digits.count == 12, separators == 0 || separators == 5 || separators == 6, digits.allSatisfy(isHex)
        else { return nil }
        if separators > 0 {
            var rebuilt: [UInt8] = separators == 6 ? Array("01-".utf8) : []
            for pair in 0..<6 {
                if pair > 0 { rebuilt.append(dash) }
                rebuilt += digits[(2 * pair)..<(2 * pair + 2)]
            }
            guard bytes.map({ $0 == colon ? dash : $0 }) == rebuilt else { return nil }
        }
        return digits
    }
}
