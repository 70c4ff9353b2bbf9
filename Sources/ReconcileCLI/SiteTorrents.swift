import Foundation
import Logging
import Reconciler
import ServiceLifecycle
import Torrent

/// The torrents of the site's images in its HTTP root (`torrents/NAME@VERSION.torrent`, where `reconcile apply`
/// and `image publish` put them): what `boot serve`'s tracker serves, and nothing else.
struct SiteTorrents: Sendable {
    /// The torrent files' paths, one per image of the site.
    let paths: [String]

    /// The largest torrent file read (a 1 TiB image in 64 KiB pieces has a 320 MiB piece list: far past real ones).
    static let maxFileSize = 64 << 20

    init(desired: DesiredState) {
        paths = desired.images.map { desired.site.boot.httpRoot + "/torrents/\($0.reference).torrent" }
    }

    /// The info-hashes of the torrents present now; a missing one is skipped, a broken one logged and skipped.
    func infoHashes(logger: Logger) -> Set<[UInt8]> {
        var hashes: Set<[UInt8]> = []
        for path in paths {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            guard let size = attributes?[.size] as? Int else { continue }
            guard size <= Self.maxFileSize, attributes?[.type] as? FileAttributeType == .typeRegular,
                let data = FileManager.default.contents(atPath: path)
            else {
                logger.warning("torrent not served", metadata: [
                    "file": "\(path)", "error": "not a regular file of at most \(Self.maxFileSize >> 20) MiB",
                ])
                continue
            }
            do {
                hashes.insert(try Metainfo(bytes: Array(data)).infoHash.bytes)
            } catch {
                logger.warning("torrent not served", metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
        return hashes
    }

    /// A service that rereads the torrents every `interval` and narrows or widens the tracker to them (an image
    /// published after the start is served; a removed one is forgotten).
    func follower(_ tracker: TrackerService, logger: Logger, interval: Duration = .seconds(10))
        -> some ServiceLifecycle.Service
    {
        Follower(torrents: self, tracker: tracker, logger: logger, interval: interval)
    }

    struct Follower: ServiceLifecycle.Service {
        let torrents: SiteTorrents
        let tracker: TrackerService
        let logger: Logger
        let interval: Duration

        func run() async throws {
            try? await cancelWhenGracefulShutdown {
                var served = torrents.infoHashes(logger: logger)
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    let now = torrents.infoHashes(logger: logger)
                    guard now != served else { continue }
                    served = now
                    tracker.allow(now)
                    logger.info("tracker follows the site's torrents", metadata: ["torrents": "\(now.count)"])
                }
            }
        }
    }
}
