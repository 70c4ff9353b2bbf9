import Foundation
import LabSupport
import Testing

@testable import Torrent

/// Every input libFuzzer kept for the announce query and the metainfo (Fuzz/corpus, grown by scripts/fuzz.sh),
/// replayed through the real parsers on every test run: none may trap, and the properties the harnesses check
/// still hold.
struct ParserCorpusTests {
    @Test func announceQueries() throws {
        let replay = try replayCorpus("announce", driveAnnounce)
        #expect(replay.inputs >= 10 && replay.problems.isEmpty, "\(replay.problems)")
        #expect(replay.accepted >= 1)
    }

    @Test func metainfo() throws {
        let replay = try replayCorpus("metainfo", driveMetainfo)
        #expect(replay.inputs >= 10 && replay.problems.isEmpty, "\(replay.problems)")
    }
}
