import Foundation
import var LabSupport.builtBinaries
import Logging
import Testing

@testable import Torrent

/// Extreme lengths, piece lengths and piece counts are clean errors naming the limit, never a trap: in parsing,
/// storage sizing, the builder, and the real `reconcile seed`, `provision-agent fetch` and `image publish`.
@Suite(.serialized)
struct MetainfoLimitsTests {
    /// A single-file torrent with the given fields, as raw bytes.
    static func torrent(length: Int64, pieceLength: Int64, pieces: Int) -> [UInt8] {
        BencodeEncoder.encode(
            .dict([
                "announce": .string("http://127.0.0.1:1/announce"),
                "info": .dict([
                    "length": .integer(length),
                    "name": .string("hostile.img"),
                    "piece length": .integer(pieceLength),
                    "pieces": .bytes([UInt8](repeating: 0xab, count: 20 * pieces)),
                ]),
            ]))
    }

    static func parseError(_ bytes: [UInt8]) -> MetainfoError? {
        do {
            _ = try Metainfo(bytes: bytes)
            return nil
        } catch {
            return error as? MetainfoError
        }
    }

    @Test(arguments: [
        (Int64.max, Int64(1 << 20), 1, "Metainfo.Limits.maxLength"),
        (Int64.max, Int64.max, 1, "Metainfo.Limits.maxPieceLength"),
        (Int64(1 << 20), Int64(4) << 30, 1, "Metainfo.Limits.maxPieceLength"),
        (Int64(1) << 43, Int64(1 << 26), 1 << 17, "Metainfo.Limits.maxLength"),
        (Int64(1) << 40, Int64(1 << 14), 8, "Metainfo.Limits.maxPieceCount"),
    ])
    func extremeFieldsAreRefusedNamingTheLimit(length: Int64, pieceLength: Int64, pieces: Int, limit: String) throws {
        // A piece count over the limit is checked from the hash count, before anything else is sized from it.
        let count = limit.hasSuffix("maxPieceCount") ? Metainfo.Limits.maxPieceCount + 1 : pieces
        let error = try #require(Self.parseError(Self.torrent(length: length, pieceLength: pieceLength, pieces: count)))
        #expect(error.code == .limitExceeded)
        #expect(error.description.contains(limit), "\(error)")
    }

    @Test(arguments: [Int64(0), -1])
    func pieceLengthsBelowOneAreRefused(pieceLength: Int64) throws {
        let error = try #require(Self.parseError(Self.torrent(length: 1 << 20, pieceLength: pieceLength, pieces: 1)))
        #expect(error.code == .invalidPieceLength)
    }

    @Test func negativeAndInconsistentLengthsAreRefused() throws {
        #expect(Self.parseError(Self.torrent(length: -1, pieceLength: 1 << 16, pieces: 1))?.code == .missingField)
        // Int64.min does not even decode (its magnitude does not fit): still an error, not a trap.
        #expect(Self.parseError(Self.torrent(length: Int64.min, pieceLength: 1 << 16, pieces: 1)) != nil)
        #expect(Self.parseError(Self.torrent(length: 1 << 20, pieceLength: Int64.min, pieces: 1)) != nil)
        // Just inside the length limit, with far too few hashes: the count check, without overflow.
        let inside = Self.torrent(length: Metainfo.Limits.maxLength, pieceLength: 1 << 26, pieces: 1)
        #expect(Self.parseError(inside)?.code == .inconsistentPieces)
    }

    @Test func storageSizingRefusesLengthsOutOfRange() throws {
        let directory = try TemporaryDirectory()
        for length in [Int64.max, -1, Metainfo.Limits.maxLength + 1] {
            #expect(throws: StorageError.self) {
                _ = try PieceStorage(path: directory.file("target-\(length)"), length: length, writable: true)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("target-\(Int64.max)")), "nothing created")
    }

    @Test func theBuilderRefusesPieceSizesThatFetchWouldRefuse() throws {
        for size in [4 << 30, Metainfo.Limits.maxPieceLength * 2, 8 << 10, 3 << 20] {
            #expect(throws: MetainfoError.self) { try MetainfoBuilder.checkPieceLength(size) }
        }
        try MetainfoBuilder.checkPieceLength(Metainfo.Limits.maxPieceLength)
        do {
            try MetainfoBuilder.checkPieceLength(4 << 30)
        } catch {
            #expect("\(error)".contains("Metainfo.Limits.maxPieceLength"))
        }
    }

    @Test func theCommandsRefuseAHostileTorrentWithTheLimitNamed() async throws {
        let bin = try #require(builtBinaries, "build the executables first")
        let directory = try TemporaryDirectory()
        let torrent = directory.file("hostile.torrent")
        let hostile = Self.torrent(length: Int64.max, pieceLength: 1 << 20, pieces: 1)
        try Data(hostile).write(to: URL(fileURLWithPath: torrent))
        let image = directory.file("image.img")
        try writeRandomFile(image, size: 100_000, seed: 3)
        let runs = [
            try await runCommand("\(bin)/reconcile", ["seed", torrent, "--data", image, "--listen", "127.0.0.1:0"]),
            try await runCommand(
                "\(bin)/provision-agent",
                [
                    "fetch", torrent, "--out-file", directory.file("out.img"), "--listen", "127.0.0.1:0",
                    "--tracker", "none",
                ]
            ),
        ]
        for run in runs {
            #expect(run.status != 0 && run.status < 128, "a clean exit, not a trap: \(run.output)")
            #expect(run.output.contains("Metainfo.Limits.maxLength"), "\(run.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.img")))
        let publish = try await runCommand(
            "\(bin)/reconcile",
            ["image", "publish", image, "--out-file", directory.file("big.torrent"), "--piece-size", "4G"]
        )
        #expect(publish.status != 0 && publish.status < 128, "\(publish.output)")
        // Refused at the flag, with the range the torrent limits allow.
        #expect(publish.output.contains("between 16KiB and 64MiB"), "\(publish.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("big.torrent")))
    }
}
