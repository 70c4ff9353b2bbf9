import Foundation
import LabSupport
import Testing

/// The distribution lab's churn (benchmarks/lab/lab.py --churn): a leecher SIGKILLed mid-transfer comes back on its
/// partial file, keeps the pieces it had verified and fetches only the rest. Correctness only, never speed.
struct ChurnLabTests {
    /// Four nodes, flat; churn seed 6 kills node 3 at 0.65 of the 4.2 s bound (8 MiB at 16 Mbit/s), when about half
    /// the file is in, and brings it back after 1 s.
    static let arguments = [
        "--nodes", "4", "--methods", "flat", "--size-mib", "8", "--piece-size", "64K", "--node-mbit", "16",
        "--seed-mbit", "16", "--churn", "0.25", "--churn-return", "1", "--churn-delay", "1",
        "--churn-seed", "6", "--timeout", "90",
    ]

    @Test func aKilledLeecherResumesFromItsVerifiedPiecesAndEveryCopyIsByteIdentical() async throws {
        // Every node's copy, the returner's included, is checked against the source.
        try await withDistributionLab("churnlab", Self.arguments, timeout: 150, copies: 4) { lab in
            try check(lab)
        }
    }

    func check(_ lab: DistributionLabRun) throws {
        let churn = try #require(lab.record["churn"] as? [String: Any], "no churn record: \(lab.run.output)")
        let killed = try #require(churn["killed"] as? [String: [String: Any]])
        let node = try #require(killed["3"], "node 3 was not killed: \(killed)")
        #expect(node["returns"] as? Bool == true)
        try #require(node["restarted_at_s"] is Double, "node 3 never came back: \(node)")
        #expect((churn["survivors"] as? [Int]) == [1, 2, 3, 4])

        // It found its verified pieces on disk (at least what its last progress line before the kill reported) and
        // fetched only what it lacked: a fetch from scratch would bring in the whole file again.
        let pieces = try #require(node["pieces"] as? Int)
        let found = try #require(node["pieces_rechecked_valid"] as? Int, "no 'rechecked existing data' line")
        let reported = try #require(node["verified_fraction_at_kill"] as? Double)
        try #require(found >= pieces / 8, "killed too early to tell a resume from a new fetch: \(node)")
        #expect(Double(found) >= (reported * Double(pieces)).rounded(.down), "lost verified pieces: \(node)")
        let broughtIn = try #require(node["bytes_in_after_restart"] as? Int)
        let lacking = try #require(node["lacking_bytes"] as? Int)
        #expect(broughtIn < lab.source.count * 9 / 10, "fetched the file again: \(node)")
        #expect(Double(broughtIn) < Double(lacking) * 1.25, "fetched more than it lacked: \(node)")
    }
}
