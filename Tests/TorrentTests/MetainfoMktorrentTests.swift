import Foundation
import Logging
import RackswarmCore
import Testing

@testable import Torrent

/// Our metainfo against the real `mktorrent` and libtorrent: same pieces, same info-hash.
struct MetainfoMktorrentTests {
    @Test(.enabled(if: Peers.hasMktorrent), arguments: [(18, 3_000_001), (20, 1 << 22), (16, 70_000)])
    func infoHashMatchesMktorrent(pieceExponent: Int, size: Int) throws {
        let directory = try TemporaryDirectory()
        let image = directory.file("image.raw")
        try writeRandomFile(image, size: size, seed: UInt64(size))
        let theirs = directory.file("theirs.torrent")
        let made = try runCommand(
            "/usr/bin/mktorrent",
            ["-l", "\(pieceExponent)", "-a", "http://127.0.0.1:1/announce", "-o", theirs, image]
        )
        try #require(made.status == 0, "\(made.output)")
        let parsed = try Metainfo(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: theirs))))
        let ours = try MetainfoBuilder.create(
            path: image, pieceLength: 1 << pieceExponent, logger: Logger(label: "test")
        )
        #expect(parsed.announce == "http://127.0.0.1:1/announce")
        #expect(parsed.length == Int64(size))
        #expect(parsed.pieceHashes == ours.pieceHashes)
        #expect(parsed.infoHash == ours.infoHash)
        // The file we write parses back to the same info-hash.
        #expect(try Metainfo(bytes: ours.encoded(creationDate: 1)).infoHash == ours.infoHash)
    }

    @Test(.enabled(if: Peers.hasLibtorrent)) func libtorrentAgreesOnInfoHash() throws {
        let directory = try TemporaryDirectory()
        let image = directory.file("disk.img")
        try writeRandomFile(image, size: 1_234_567, seed: 3)
        let ours = try MetainfoBuilder.create(path: image, pieceLength: 1 << 16, logger: Logger(label: "test"))
        let path = directory.file("ours.torrent")
        try Data(ours.encoded()).write(to: URL(fileURLWithPath: path))
        let result = try runCommand(
            Peers.python,
            ["-c", "import libtorrent as lt,sys; print(lt.torrent_info(sys.argv[1]).info_hash())", path]
        )
        #expect(result.status == 0)
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == ours.infoHash.hex)
    }

    @Test func pieceLengthFollowsImageSize() {
        #expect(MetainfoBuilder.pieceLength(forSize: 1 << 30) == 4 << 20)
        #expect(MetainfoBuilder.pieceLength(forSize: 20_000_000_000) == 16 << 20)
        #expect(MetainfoBuilder.pieceLength(forSize: 6_000_000_000) == 8 << 20)
        #expect(MetainfoBuilder.pieceLength(forSize: 1000) == 16 << 10)
        #expect(MetainfoBuilder.pieceLength(forSize: 100 << 20) == 512 << 10)
    }

    @Test func rejectsInconsistentTorrents() {
        let bad = BencodeEncoder.encode(
            .dict([
                "info": .dict([
                    "length": .integer(100), "name": .string("x"), "piece length": .integer(16384),
                    "pieces": .bytes([UInt8](repeating: 0, count: 40)),
                ])
            ]))
        #expect(throws: MetainfoError.self) { try Metainfo(bytes: bad) }
        #expect(throws: MetainfoError.self) { try Metainfo(bytes: Array("garbage".utf8)) }
    }
}

struct ErrorIntentTests {
    @Test func errorsSayWhetherAHumanMustAct() {
        #expect(MetainfoError(.inconsistentPieces, "").intent == .stalled)
        #expect(StorageError(.tooSmall, "").intent == .stalled)
        #expect(StorageError(.write, "").intent == .transient)
        #expect(TorrentError(.listen, "").intent == .waiting(retryAfter: .seconds(5)))
        #expect(TorrentError(.tracker, "refused", intent: .stalled).intent == .stalled)
    }

    /// Each module's `CodedError` reads word for word as its own error struct did before they shared the type.
    @Test func codedErrorsReadAsTheyDid() {
        #expect("\(StorageError(.open, "/dev/sdz: errno 2"))" == "storage: cannot open target: /dev/sdz: errno 2")
        #expect("\(MetainfoError(.missingInfo))" == "missing 'info' dictionary")
        #expect("\(MetainfoError(.missingField, "name"))" == "missing or invalid field: name")
        #expect("\(TorrentError(.tracker, "bad HTTP response"))" == "tracker request failed: bad HTTP response")
        #expect("\(PeerWireError(.oversizedMessage, "1001 bytes"))"
                == "peer wire: message longer than allowed 1001 bytes")
        #expect("\(PeerWireError(.badProtocolName))" == "peer wire: not a BitTorrent handshake ")
    }

    @Test func seedingAnImageThatIsTooSmallIsStalled() async throws {
        let image = try TestImage(size: 100_000, pieceLength: 16 << 10, seed: 5)
        let short = image.directory.file("short.img")
        try writeRandomFile(short, size: 50_000, seed: 5)
        await #expect {
            _ = try await TorrentClient.start(
                metainfo: image.metainfo, path: short, seedOnly: true,
                configuration: TorrentConfiguration(listenHost: nil, trackerURL: ""), logger: testLogger("x")
            )
        } throws: { error in
            (error as? StorageError)?.intent == .stalled
        }
    }
}
