/// A boot entry could not be written, checked or reloaded. Names the node and the file; `code` says who must act.
public struct BootError: IntentfulError, Sendable, Hashable {
    public enum Code: String, Sendable, Hashable {
        /// Two nodes claim one MAC address. Stalled: fix the repo.
        case macCollision
        /// Two nodes claim one IP address. Stalled: fix the repo.
        case ipCollision
        /// The image's kernel or initrd is not in the boot root. Stalled: put the file there.
        case missingFile
        /// The boot directory or a file in it cannot be written. Stalled: fix permissions or the path.
        case unwritable
        /// A file the entry would replace was not written by rackswarm. Stalled: move the operator's file.
        case unmanagedFile
        /// A kernel argument cannot be written into this loader's entry (whitespace, quotes, newlines).
        case invalidArgument
        /// The MAC address cannot be read.
        case invalidAddress
        /// dnsmasq refused its configuration or could not be signalled. Transient when it is restarting.
        case dhcpReload
    }

    public var code: Code
    /// The node the error is about; empty for site-wide files.
    public var node: String
    /// The file (or, for collisions, the address) involved.
    public var path: String
    public var message: String

    public init(_ code: Code, node: String, path: String, _ message: String) {
        self.code = code
        self.node = node
        self.path = path
        self.message = message
    }

    /// Whether retrying without a human can help.
    public var isTransient: Bool { code == .dhcpReload }

    /// Stalled (fix the repo or the boot roots), except a failed DHCP reload, which the next try may get through.
    public var intent: ErrorIntent { isTransient ? .transient : .stalled }

    public var description: String {
        let subject = node.isEmpty ? "" : "node '\(node)': "
        return "boot: \(code.rawValue): \(subject)\(message)" + (path.isEmpty ? "" : " (\(path))")
    }
}
