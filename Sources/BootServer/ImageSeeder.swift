import Drivers
import Foundation
import Logging
import MemberwiseInit
import Torrent

/// The reconciler's initial seed: for every image a present node runs, checks the file against the repo's
/// SHA-256, links it under the HTTP root (`images/NAME@VERSION`, the HTTP fallback), writes
/// `torrents/NAME@VERSION.torrent` and seeds it until the reconciler stops.
///
/// An image that cannot be served (missing file, wrong SHA-256, unreadable) is refused with a reason; the
/// executor stalls its nodes before touching any of them.
public actor ImageSeeder {
    @PublicMemberwiseInit
    public struct Settings: Sendable {
        public var httpRoot: String
        /// `http://SERVER:PORT/announce`: the tracker the seed announces to.
        public var trackerURL: String
        /// Where the seed accepts peers.
        public var listenHost: String = "0.0.0.0"
        public var listenPort: Int = 6881
        /// The `announce` of the `.torrent` file written into the HTTP root; nil: `trackerURL`. Several
        /// reconcilers sharing the root write the same one (the site's address), each seed announcing to its own.
        public var torrentAnnounce: String? = nil
    }

    /// An image the caller wants seeded: its reference, file, expected SHA-256 and piece size.
    public struct Wanted: Sendable, Hashable {
        public var reference: String
        public var path: String
        public var sha256: String
        public var pieceSize: Int?
        /// How errors name the file and the expected SHA-256 (`site/images/x.img`, `images/x.yaml:10:11`).
        public var shownPath: String
        public var shownExpectation: String
        /// The image's `url:`: when `path` is missing, it is downloaded there first (`ImageDownload`).
        public var url: String?
        /// Super-seed (each piece leaves the seed about once and the nodes spread it); false when the site keeps
        /// traffic in racks, where the seed sends each piece to every rack. A change re-seeds the image.
        public var superSeed: Bool

        public init(reference: String, path: String, sha256: String, pieceSize: Int?, shownPath: String? = nil,
                    shownExpectation: String? = nil, url: String? = nil, superSeed: Bool = true) {
            self.url = url
            self.superSeed = superSeed
            self.reference = reference
            self.path = path
            self.sha256 = sha256
            self.pieceSize = pieceSize
            self.shownPath = shownPath ?? path
            self.shownExpectation = shownExpectation ?? "the repo"
        }
    }

    private struct Seeding {
        var wanted: Wanted
        var client: TorrentClient
        var infoHash: [UInt8]
    }

    private let settings: Settings
    private let logger: Logger
    private var seeding: [String: Seeding] = [:]
    private var digests: [String: (size: Int64, modified: Date, sha256: String)] = [:]
    /// Downloads whose bytes did not match, by destination: refused again without downloading again (the
    /// destination's name holds the expected SHA-256, so a corrected `sha256:` downloads afresh).
    private var badDownloads: [String: String] = [:]
    private var nextPort: Int

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.nextPort = settings.listenPort
    }

    /// Seeds every wanted image (already seeded ones stay as they are) and stops seeding images no node runs any
    /// more; returns the refused ones with why.
    public func prepare(_ wanted: [Wanted]) async -> [String: String] {
        let references = Set(wanted.map(\.reference))
        for (reference, entry) in seeding where !references.contains(reference) {
            await entry.client.stop()
            seeding[reference] = nil
            logger.info("stopped seeding: no node runs it any more", metadata: ["image": "\(reference)"])
        }
        var refused: [String: String] = [:]
        for image in wanted where seeding[image.reference]?.wanted != image {
            do {
                try await start(image)
            } catch {
                refused[image.reference] = "\(error)"
                logger.error("image refused", metadata: ["image": "\(image.reference)", "error": "\(error)"])
            }
        }
        return refused
    }

    /// The info-hashes of the torrents being seeded: what the site's tracker accepts.
    public func infoHashes() -> Set<[UInt8]> { Set(seeding.values.map(\.infoHash)) }

    /// Bytes the seed has uploaded, per image.
    public func uploadedBytes() async -> [String: Int64] {
        var result: [String: Int64] = [:]
        for (reference, entry) in seeding {
            result[reference] = (try? await entry.client.progress().uploadedBytes) ?? 0
        }
        return result
    }

    public func stop() async {
        for entry in seeding.values { await entry.client.stop() }
        seeding = [:]
    }

    private func start(_ image: Wanted) async throws {
        if let url = image.url, !FileManager.default.fileExists(atPath: image.path) {
            try await download(url, for: image)
        }
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: image.path)
        } catch {
            throw SeedError("file \(image.shownPath) is missing or unreadable")
        }
        // The loader refuses devices and FIFOs; checked again here, and the hash reads exactly the size seen, so a
        // file swapped for /dev/zero since cannot keep the pass reading forever.
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw SeedError("file \(image.shownPath) is not a regular file")
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = attributes[.modificationDate] as? Date ?? .distantPast
        let sha256: String
        if let known = digests[image.path], known.size == size, known.modified == modified {
            sha256 = known.sha256
        } else {
            do {
                sha256 = try FileDigest.sha256(path: image.path, length: size)
            } catch {
                throw SeedError("cannot read \(image.shownPath): \(error.description)")
            }
            digests[image.path] = (size, modified, sha256)
        }
        guard sha256 == image.sha256.lowercased() else {
            throw SeedError("file \(image.shownPath) has SHA-256 \(sha256), but \(image.shownExpectation) says "
                            + "\(image.sha256.lowercased()); no node of this image is touched")
        }
        // The served copy: a hard link when possible (git replaces files, so the link keeps this version), else
        // a copy. Written under a temporary name and renamed: never half there.
        let served = settings.httpRoot + "/images/" + image.reference
        try FileManager.default.createDirectory(atPath: settings.httpRoot + "/images",
                                                withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: settings.httpRoot + "/torrents",
                                                withIntermediateDirectories: true)
        let temporary = settings.httpRoot + "/images/.\(image.reference).\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        if link(image.path, temporary) != 0 { try FileManager.default.copyItem(atPath: image.path, toPath: temporary) }
        guard rename(temporary, served) == 0 else { throw SeedError("cannot place \(served): errno \(errno)") }

        let metainfo = try MetainfoBuilder.create(
            path: served, name: image.reference, pieceLength: image.pieceSize,
            announce: settings.torrentAnnounce ?? settings.trackerURL,
            logger: logger)
        let torrent = settings.httpRoot + "/torrents/\(image.reference).torrent"
        try Data(metainfo.encoded(creationDate: Int64(Date().timeIntervalSince1970)))
            .write(to: URL(fileURLWithPath: torrent), options: .atomic)
        if let old = seeding.removeValue(forKey: image.reference) { await old.client.stop() }
        let client = try await TorrentClient.start(
            metainfo: metainfo, path: served, seedOnly: true,
            // Super-seeding: each piece leaves the seed about once, and the nodes spread it (see benchmarks/).
            configuration: TorrentConfiguration(
                listenHost: settings.listenHost, listenPort: nextPort, trackerURL: settings.trackerURL,
                superSeed: image.superSeed),
            logger: logger)
        nextPort += 1
        guard try await client.progress().isComplete else {
            await client.stop()
            throw SeedError("\(served) does not match its own torrent (changed while hashing?)")
        }
        seeding[image.reference] = Seeding(wanted: image, client: client, infoHash: metainfo.infoHash.bytes)
        logger.info("seeding", metadata: [
            "image": "\(image.reference)", "info_hash": "\(metainfo.infoHash.hex)",
            "port": "\(client.listenPort ?? 0)",
        ])
    }
}

extension ImageSeeder {
    /// Downloads an image's URL to its `path` (resuming an earlier part) and checks it against the repo's SHA-256.
    private func download(_ url: String, for image: Wanted) async throws {
        if let bad = badDownloads[image.path] { throw SeedError(bad) }
        let directory = (image.path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let download = ImageDownload(url: url, destination: image.path, sha256: image.sha256)
        do {
            try await download.run(logger: logger)
        } catch {
            switch error.code {
            case .sha256Mismatch:
                let message = "image url \(url) has SHA-256 \(error.got ?? "?"), but \(image.shownExpectation) says "
                    + "\(image.sha256.lowercased()); no node of this image is touched (the bytes are in "
                    + "\(image.path).bad)"
                badDownloads[image.path] = message
                throw SeedError(message)
            case .unreachable:
                throw SeedError("image url: \(error.description) (retried next pass, resuming at byte "
                                + "\(download.partialBytes))")
            }
        }
    }
}

/// Why an image cannot be seeded.
public struct SeedError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
