import ArgumentParser
import CommandLineSupport
import Foundation
import Logging
import RackswarmCore
import Torrent

/// `reconcile image`: operations on OS images.
struct Image: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Publish OS images for distribution over BitTorrent.",
        subcommands: [Publish.self]
    )

    /// `reconcile image publish`: hashes an image on every core and writes its .torrent.
    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish", abstract: "Create a .torrent for an image file or device.")

        @Argument(help: "The image file or block device.")
        var image: String

        @Option(name: .customLong("out-file"), help: "Where to write the .torrent.")
        var output: String

        @Option(help: "Piece size, a power of two from 16KiB to 64MiB (e.g. 4M); default chosen from the image size.",
                transform: Quantity.bytesFlag(in: Quantity.pieceSizes))
        var pieceSize: Int64?

        @Option(help: "Tracker announce URL.")
        var tracker: String?

        @Option(help: "HTTP web seed URL (BEP 19); repeatable.")
        var webSeed: [String] = []

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            if let pieceSize {
                // The limits `fetch` checks: a torrent it would refuse is never written.
                do {
                    try MetainfoBuilder.checkPieceLength(Int(pieceSize))
                } catch {
                    throw ValidationError("--piece-size \(pieceSize): \(error)")
                }
            }
        }

        func run() async throws {
            let logger = Logger(label: "rackswarm.image.publish")
            let started = ContinuousClock.now
            let metainfo = try MetainfoBuilder.create(
                path: image, pieceLength: pieceSize.map { Int($0) }, announce: tracker,
                webSeeds: webSeed, logger: logger
            )
            let bytes = metainfo.encoded(creationDate: Int64(Date().timeIntervalSince1970))
            try Data(bytes).write(to: URL(fileURLWithPath: output))
            let elapsed = ContinuousClock.now - started
            StandardOutput.line(
                "\(output): info-hash \(metainfo.infoHash.hex), \(metainfo.pieceCount) pieces of "
                    + "\(ProgressLine.bytes(Int64(metainfo.pieceLength))), hashed in \(elapsed)"
            )
        }
    }
}
