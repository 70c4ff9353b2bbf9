import MemberwiseInit

/// An OS image: the file spread by BitTorrent, and the install kernel that writes it.
@PublicMemberwiseInit
public struct Image: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        /// A path, relative to the site directory unless absolute.
        case file(String)
        case url(String)
    }

    public var name: String
    public var location: SourceLocation
    public var version: String
    public var source: Source
    /// Lower-case hex SHA-256 of the image file.
    public var sha256: Located<String>
    public var kernel: Located<String>
    public var initrd: Located<String>
    public var kernelArgs: [String]
    /// BitTorrent piece size in bytes; nil lets the engine choose from the image size.
    public var pieceSize: Int?
    public var postInstall: [PostInstallAction]
    /// The image's root file system, which the install environment mounts for the post actions: `LABEL=…`,
    /// `UUID=…` or a partition number (docs/install-environment.md). Nil: the image has no partition table to look
    /// into, and the post actions run in the install environment's root directory.
    public var rootPartition: String?

    /// `name@version`, what a node's status records as installed.
    public var reference: String { "\(name)@\(version)" }
}

/// A step the install environment runs after the image is written, before the node reboots.
@PublicMemberwiseInit
public struct PostInstallAction: Sendable, Hashable, Codable {
    public var name: String
    public var run: String
}
