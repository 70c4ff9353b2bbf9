import Foundation
import LabSupport
import Testing

/// The distribution lab's churn (benchmarks/lab/lab.py --churn): a leecher SIGKILLed mid-transfer comes back on its
/// partial file, keeps the pieces it had verified and fetches only the rest. Correctness only, never speed.
struct ChurnLabTests {
    @Test func aKilledLeecherResumesFromItsVerifiedPiecesAndEveryCopyIsByteIdentical() async throws {
        // Churn seed 6 kills node 3 at 0.65 of the 4.2 s bound (8 MiB at 16 Mbit/s): about half the file is in.
        let (work, run, result) = try await runDistributionLab(
            "churnlab",
            [
                "--nodes", "4", "--methods", "flat", "--size-mib", "8", "--piece-size", "64K", "--node-mbit", "16",
                "--seed-mbit", "16", "--churn", "0.25", "--churn-return", "1", "--churn-delay", "1",
                "--churn-seed", "6", "--timeout", "90", "--timeline-for", "0", "--keep-copies",
            ],
            timeout: 150
        )
        defer { try? FileManager.default.removeItem(atPath: work) }
        let runs = try #require(result["runs"] as? [[String: Any]])
        try #require(runs.count == 1, "one flat run expected: \(run.output)")
        let churn = try #require(runs[0]["churn"] as? [String: Any], "no churn record: \(run.output)")
        let killed = try #require(churn["killed"] as? [String: [String: Any]])
        let node = try #require(killed["3"], "node 3 was not killed: \(killed)")
        #expect(node["returns"] as? Bool == true)
        try #require(node["restarted_at_s"] is Double, "node 3 never came back: \(node)")
        #expect((churn["survivors"] as? [Int]) == [1, 2, 3, 4])

        // The copy is whole and right on every node, the returner's included.
        let source = try Data(contentsOf: URL(fileURLWithPath: try #require(result["source"] as? String)))
        let copies = try #require(runs[0]["copies"] as? [String])
        #expect(copies.count == 4)
        for copy in copies {
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == source, "\(copy) differs from the source")
        }

        // It found its verified pieces on disk (at least what its last progress line before the kill reported) and
        // fetched only what it lacked: a fetch from scratch would bring in the whole file again.
        let pieces = try #require(node["pieces"] as? Int)
        let found = try #require(node["pieces_rechecked_valid"] as? Int, "no 'rechecked existing data' line")
        let reported = try #require(node["verified_fraction_at_kill"] as? Double)
        try #require(found >= pieces / 8, "killed too early to tell a resume from a new fetch: \(node)")
        #expect(Double(found) >= (reported * Double(pieces)).rounded(.down), "lost verified pieces: \(node)")
        let broughtIn = try #require(node["bytes_in_after_restart"] as? Int)
        let lacking = try #require(node["lacking_bytes"] as? Int)
        #expect(broughtIn < source.count * 9 / 10, "fetched the file again: \(node)")
        #expect(Double(broughtIn) < Double(lacking) * 1.25, "fetched more than it lacked: \(node)")
    }
}
