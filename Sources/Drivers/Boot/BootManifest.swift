import Foundation
import MemberwiseInit

/// The record of every file rackswarm wrote into the boot roots, so it prunes its own files and nothing else.
public struct BootManifest: Sendable, Hashable, Codable {
    /// A file under one of the roots.
    @PublicMemberwiseInit
    public struct ManagedFile: Sendable, Hashable, Codable, Comparable {
        public var root: BootEntryRenderer.File.Root
        public var path: String

        public static func < (lhs: ManagedFile, rhs: ManagedFile) -> Bool {
            (lhs.root.rawValue, lhs.path) < (rhs.root.rawValue, rhs.path)
        }
    }

    /// One node's files.
    public struct NodeFiles: Sendable, Hashable, Codable {
        public var mac: String
        public var files: [ManagedFile]
        /// Set while the node's entry is an install entry: which install it is (not a secret).
        public var install: InstallMark?
        /// The image of the node's install entry, tokens or not; nil for a local-boot entry (and in manifests
        /// written before it was kept, where `install` tells).
        public var image: String?
    }

    /// The install a node's install entry is for: the image and the nonce its one-time token is made from.
    public struct InstallMark: Sendable, Hashable, Codable {
        /// `name@version` of the image.
        public var image: String
        public var nonce: String
    }

    public var version = 1
    /// By node name.
    public var nodes: [String: NodeFiles] = [:]
    /// Site-wide files (the iPXE dispatcher).
    public var site: [ManagedFile] = []

    public init() {}

    /// Every file the manifest holds.
    public var allFiles: Set<ManagedFile> {
        Set(site).union(nodes.values.flatMap(\.files))
    }

    /// The node that owns `file`, if any.
    public func owner(of file: ManagedFile) -> String? {
        nodes.first { $0.value.files.contains(file) }?.key
    }

    /// Reads the manifest; a missing file is an empty manifest.
    public static func load(from path: String) throws(AtomicFileError) -> BootManifest {
        guard FileManager.default.fileExists(atPath: path) else { return BootManifest() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AtomicFileError(path: path, reason: "cannot read the boot manifest")
        }
        do {
            return try JSONDecoder().decode(BootManifest.self, from: data)
        } catch {
            throw AtomicFileError(path: path, reason: "the boot manifest is damaged: \(error)")
        }
    }

    /// Writes the manifest atomically.
    public func save(to path: String) throws(AtomicFileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(self)
        } catch {
            throw AtomicFileError(path: path, reason: "cannot encode the boot manifest: \(error)")
        }
        try AtomicFile.write(Array(data), to: path)
    }
}
