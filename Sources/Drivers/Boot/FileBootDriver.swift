import Foundation
import Logging

/// Writes boot entries into the TFTP and HTTP roots, keeping a manifest of the files it owns.
///
/// Every write is atomic (temp file + rename). A file that exists but is not in the manifest is an operator's and
/// is never replaced or removed.
public actor FileBootDriver: BootDriver {
    public let tftpRoot: String
    public let httpRoot: String
    public let manifestPath: String
    public let renderer: BootEntryRenderer
    /// Makes the one-time tokens of install entries; nil writes entries without tokens.
    public let tokens: InstallTokenMinter?
    private let logger: Logger

    /// A driver for these roots; the manifest defaults to `tftpRoot/.rackswarm-manifest.json`.
    public init(tftpRoot: String, httpRoot: String, server: BootServerAddress, manifestPath: String? = nil,
                tokens: InstallTokenMinter? = nil, logger: Logger) {
        self.tokens = tokens
        self.tftpRoot = tftpRoot
        self.httpRoot = httpRoot
        self.manifestPath = manifestPath ?? tftpRoot + "/.rackswarm-manifest.json"
        self.renderer = BootEntryRenderer(server: server)
        self.logger = logger
    }

    /// The absolute path of a file under its root.
    public nonisolated func absolutePath(_ file: BootManifest.ManagedFile) -> String {
        (file.root == .tftp ? tftpRoot : httpRoot) + "/" + file.path
    }

    /// Where the node's loader fetches the kernel and initrd from: TFTP for pxelinux and GRUB, HTTP for iPXE.
    public nonisolated func kernelRoot(for loader: BootEntry.Loader) -> String {
        loader == .ipxe ? httpRoot : tftpRoot
    }

    @discardableResult
    public func write(_ entry: BootEntry) throws -> [String] {
        try exclusively(node: entry.node) { try writeLocked(entry) }
    }

    private func writeLocked(_ entry: BootEntry) throws -> [String] {
        var manifest = try loadManifest(node: entry.node)
        let (entry, mark) = withToken(entry, previous: manifest.nodes[entry.node]?.install)
        let files = try renderer.files(for: entry)
        if case .install(let install) = entry.mode {
            let root = kernelRoot(for: entry.loader)
            for (what, path) in [("kernel", install.kernel), ("initrd", install.initrd)] {
                let full = root + "/" + BootEntryRenderer.trimmed(path)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue
                else {
                    throw BootError(.missingFile, node: entry.node, path: full,
                                    "the \(what) of \(install.imageReference) is not in the boot root")
                }
            }
        }
        let managed = manifest.allFiles
        let wanted = files.map { BootManifest.ManagedFile(root: $0.root, path: $0.path) }
        for file in wanted {
            if let owner = manifest.owner(of: file), owner != entry.node {
                throw BootError(.macCollision, node: entry.node, path: absolutePath(file),
                                "MAC address \(entry.mac) already has an entry, written for node '\(owner)'")
            }
            if !managed.contains(file) && FileManager.default.fileExists(atPath: absolutePath(file)) {
                throw BootError(.unmanagedFile, node: entry.node, path: absolutePath(file),
                                "a file rackswarm did not write is in the way; move it to let rackswarm manage it")
            }
        }
        // Record before writing, so a crash between the two leaves files the next run knows are its own.
        let previous = manifest.nodes[entry.node]?.files ?? []
        let image: String? = if case .install(let install) = entry.mode { install.imageReference } else { nil }
        manifest.nodes[entry.node] = .init(mac: entry.mac, files: Array(Set(previous + wanted)).sorted(),
                                           install: mark, image: image)
        try saveManifest(manifest, node: entry.node)
        for (file, rendered) in zip(wanted, files) {
            do {
                try AtomicFile.write(Array(rendered.contents.utf8), to: absolutePath(file))
            } catch {
                throw BootError(.unwritable, node: entry.node, path: error.path, error.reason)
            }
        }
        for stale in previous where !wanted.contains(stale) {
            try removeFile(stale, node: entry.node)
        }
        manifest.nodes[entry.node] = .init(mac: entry.mac, files: wanted.sorted(), install: mark, image: image)
        try saveManifest(manifest, node: entry.node)
        logger.info("wrote boot entry", metadata: [
            "node": "\(entry.node)", "boot.loader": "\(entry.loader.rawValue)",
            "boot.mode": "\(entry.mode == .localBoot ? "localBoot" : "install")",
        ])
        return wanted.map(absolutePath)
    }

    /// The entry with its install token appended, and the install it is for: the previous install's nonce when the
    /// entry is for the same image (a rewrite of a running install keeps its token), a fresh one otherwise. A local
    /// boot entry, or a driver without a minter, has neither.
    private func withToken(_ entry: BootEntry, previous: BootManifest.InstallMark?)
        -> (BootEntry, BootManifest.InstallMark?)
    {
        guard let tokens, case .install(var install) = entry.mode else { return (entry, nil) }
        let mark = previous.flatMap { $0.image == install.imageReference ? $0 : nil }
            ?? BootManifest.InstallMark(image: install.imageReference, nonce: InstallTokenMinter.freshNonce())
        install.arguments.append(InstallTokenMinter.argument(tokens.token(node: entry.node, nonce: mark.nonce)))
        var entry = entry
        entry.mode = .install(install)
        return (entry, mark)
    }

    public func installToken(node: String) throws -> String? {
        guard let tokens, let mark = try loadManifest(node: node).nodes[node]?.install else { return nil }
        return tokens.token(node: node, nonce: mark.nonce)
    }

    public func writtenEntries() throws -> [String: WrittenEntry] {
        try loadManifest(node: "").nodes.mapValues(Self.kind)
    }

    @discardableResult
    public func rewrite(_ entry: BootEntry) throws -> Bool {
        try exclusively(node: entry.node) {
            guard let files = try loadManifest(node: entry.node).nodes[entry.node],
                Self.kind(files) == WrittenEntry(entry)
            else { return false }
            try writeLocked(entry)
            return true
        }
    }

    private static func kind(_ files: BootManifest.NodeFiles) -> WrittenEntry {
        (files.image ?? files.install?.image).map { .install(image: $0) } ?? .localBoot
    }

    public func remove(node: String) throws {
        try exclusively(node: node) { try removeLocked(node: node) }
    }

    private func removeLocked(node: String) throws {
        var manifest = try loadManifest(node: node)
        guard let files = manifest.nodes[node]?.files else { return }
        for file in files { try removeFile(file, node: node) }
        manifest.nodes[node] = nil
        try saveManifest(manifest, node: node)
        logger.info("removed boot entry", metadata: ["node": "\(node)"])
    }

    public func prune(keeping nodes: Set<String>) throws -> [String] {
        try exclusively(node: "") {
            let manifest = try loadManifest(node: "")
            let leaving = manifest.nodes.keys.filter { !nodes.contains($0) }.sorted()
            for node in leaving { try removeLocked(node: node) }
            return leaving
        }
    }

    /// Writes the site-wide iPXE dispatcher (`rackswarm.ipxe` in the TFTP root) that DHCP hands iPXE clients.
    public func writeSiteFiles() throws {
        try exclusively(node: "") { try writeSiteFilesLocked() }
    }

    private func writeSiteFilesLocked() throws {
        var manifest = try loadManifest(node: "")
        let rendered = renderer.ipxeDispatcher()
        let file = BootManifest.ManagedFile(root: rendered.root, path: rendered.path)
        if !manifest.site.contains(file) && FileManager.default.fileExists(atPath: absolutePath(file)) {
            throw BootError(.unmanagedFile, node: "", path: absolutePath(file),
                            "a file rackswarm did not write is in the way")
        }
        manifest.site = Array(Set(manifest.site + [file])).sorted()
        try saveManifest(manifest, node: "")
        do {
            try AtomicFile.write(Array(rendered.contents.utf8), to: absolutePath(file))
        } catch {
            throw BootError(.unwritable, node: "", path: error.path, error.reason)
        }
    }

    /// The manifest as stored.
    public func manifest() throws -> BootManifest {
        try loadManifest(node: "")
    }

    private func removeFile(_ file: BootManifest.ManagedFile, node: String) throws(BootError) {
        do {
            try AtomicFile.remove(absolutePath(file))
        } catch {
            throw BootError(.unwritable, node: node, path: error.path, error.reason)
        }
    }

    /// Runs `body` holding an exclusive `flock` next to the manifest. The actor orders one process's writes;
    /// the lock orders several processes sharing one boot root (reconcilers on one PostgreSQL), whose
    /// read-modify-write of the manifest would otherwise drop each other's entries and install tokens.
    private func exclusively<T>(node: String, _ body: () throws -> T) throws -> T {
        let lockPath = manifestPath + ".lock"
        let directory = (manifestPath as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw BootError(.unwritable, node: node, path: lockPath, String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw BootError(.unwritable, node: node, path: lockPath, String(cString: strerror(errno)))
            }
        }
        return try body()
    }

    private func loadManifest(node: String) throws(BootError) -> BootManifest {
        do {
            return try BootManifest.load(from: manifestPath)
        } catch {
            throw BootError(.unwritable, node: node, path: error.path, error.reason)
        }
    }

    private func saveManifest(_ manifest: BootManifest, node: String) throws(BootError) {
        do {
            try manifest.save(to: manifestPath)
        } catch {
            throw BootError(.unwritable, node: node, path: error.path, error.reason)
        }
    }
}
