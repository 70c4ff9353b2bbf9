import BootServer
import Drivers
import Foundation
import LabSupport
import Testing
import Torrent

/// The tracker named by `rackswarm.tracker=` answers on the boot endpoint: two announces through curl, the second
/// peer learns the first, and a scrape counts both.
struct BootTrackerTests {
    @Test func announcesOnTheBootEndpointReturnEachOther() async throws {
        let curl = try #require(tool("curl"), "curl is not installed (boot.apt)")
        let directory = try TemporaryDirectory()
        let httpRoot = try directory.subdirectory("http")
        let tracker = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(interval: 17)))
        let infoHash = (0..<20).map { UInt8($0 &* 13 &+ 1) }
        try await withBootServer(httpRoot: httpRoot, tracker: tracker) { port in
            func announce(_ peer: UInt8, port peerPort: Int) async throws -> AnnounceResponse {
                let request = AnnounceRequest(infoHash: infoHash, peerID: [UInt8](repeating: peer, count: 20),
                                              port: peerPort, left: 1000, event: .started, rack: "r1")
                let out = directory.path + "/announce-\(peer)"
                let result = await runTool(curl, ["-sS", "--max-time", "10", "-o", out,
                                                  "http://127.0.0.1:\(port)/announce?\(request.query)"])
                #expect(result.succeeded, "curl: \(result.output)")
                return try AnnounceResponse(bencoded: [UInt8](try Data(contentsOf: URL(fileURLWithPath: out))))
            }
            let first = try await announce(1, port: 6881)
            #expect(first.interval == 17 && first.peers.isEmpty)
            let second = try await announce(2, port: 6882)
            #expect(second.peers == [PeerAddress(host: "127.0.0.1", port: 6881)], "\(second)")
            let scrape = await runTool(curl, ["-sS", "--max-time", "10",
                "http://127.0.0.1:\(port)/scrape?info_hash=\(URLQuery.percentEncode(infoHash))"])
            #expect(scrape.succeeded && scrape.output.contains("incompletei2e"), "\(scrape.output)")
        }
    }
}
