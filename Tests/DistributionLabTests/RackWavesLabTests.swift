import Foundation
import LabSupport
import Testing

/// The distribution lab (benchmarks/lab/lab.py) with rackswarm in rack waves: 1 seed + 4 nodes in 2 racks, each in
/// its own network namespace on a bridge with tbf on both directions. Correctness only, never speed.
struct RackWavesLabTests {
    @Test func fourNodesInTwoRacksGetByteIdenticalCopiesAndTheLabLeavesNothingBehind() async throws {
        let (work, run, result) = try await runDistributionLab(
            "distlab",
            [
                "--nodes", "4", "--methods", "waves", "--size-mib", "3", "--piece-size", "64K", "--rack-size", "2",
                "--first-wave", "1", "--node-mbit", "200", "--seed-mbit", "200", "--timeout", "60",
                "--timeline-for", "0", "--keep-copies",
            ],
            timeout: 100
        )
        defer { try? FileManager.default.removeItem(atPath: work) }
        let runs = try #require(result["runs"] as? [[String: Any]])
        try #require(runs.count == 1, "one waves run expected: \(run.output)")
        let record = runs[0]
        #expect(record["method"] as? String == "waves")
        #expect((record["racks"] as? [[Int]]) == [[1, 2], [3, 4]])

        // Every node's copy is byte-identical to the source.
        let source = try Data(contentsOf: URL(fileURLWithPath: try #require(result["source"] as? String)))
        #expect(source.count == 3 << 20)
        let copies = try #require(record["copies"] as? [String])
        #expect(copies.count == 4)
        for copy in copies {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: copy))
            #expect(bytes == source, "\(copy) differs from the source")
        }
        // Waves: each rack's second node started only once its first had a verified piece to serve.
        #expect(record["wave_start"] as? String == "first-piece")
        let started = try #require(record["started_s"] as? [Double])
        let firstPiece = try #require(record["first_piece_s"] as? [Double])
        #expect(started.count == 4 && firstPiece.count == 4)
        if started.count == 4, firstPiece.count == 4 {
            #expect(started[1] >= firstPiece[0] && started[3] >= firstPiece[2], "wave order broken: \(started)")
            #expect(started[0] < firstPiece[0] && started[2] < firstPiece[2])
        }
        let elapsed = try #require(record["elapsed_s"] as? [Double])
        #expect(elapsed.count == 4)

        // Nothing is left behind: no namespace of this lab, no process it started.
        let lab = try #require(result["lab"] as? [String: Any])
        let prefix = try #require(lab["prefix"] as? String)
        let created = try #require(lab["namespaces"] as? [String])
        #expect(created.count == 6, "bridge, seed and 4 nodes: \(created)")
        let after = await namespaceNames()
        #expect(after.filter { $0.hasPrefix(prefix) }.isEmpty, "namespaces left behind: \(after)")
        let pids = try #require(lab["pids"] as? [Int])
        #expect(pids.count >= 5, "seed and 4 agents: \(pids)")
        let alive = pids.filter { processExists(Int32($0)) }
        #expect(alive.isEmpty, "processes left behind: \(alive)")
    }
}
