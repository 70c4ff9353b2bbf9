import Foundation
import LabSupport
import Testing

@testable import Drivers

/// Every input libFuzzer kept for the RMCP/RMCP+/IPMI decoders (Fuzz/corpus/ipmi, grown by scripts/fuzz.sh),
/// replayed on every test run through the harness's own drive (Fuzz/IPMIDrive.swift): each gives a value or an
/// IPMICodecError, never a trap, fed to a session machine as a BMC's answers it never traps, and a payload sealed with
/// either cipher suite opens to itself.
struct IPMICorpusTests {
    @Test func corpusReplays() throws {
        let replay = try replayCorpus("ipmi", driveIPMI)
        #expect(replay.inputs >= 10 && replay.problems.isEmpty, "\(replay.problems)")
        #expect(replay.accepted >= 1, "at least one input decodes as a datagram")
    }
}
