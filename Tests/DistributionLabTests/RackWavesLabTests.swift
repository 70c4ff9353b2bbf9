import Foundation
import LabSupport
import Testing

/// The distribution lab (benchmarks/lab/lab.py) with rackswarm in rack waves: 1 seed + 4 nodes in 2 racks, each in
/// its own network namespace on a bridge with tbf on both directions. Correctness only, never speed.
struct RackWavesLabTests {
    /// Four nodes in two racks of two, rack waves, 3 MiB at 200 Mbit/s.
    static let arguments = [
        "--nodes", "4", "--methods", "waves", "--size-mib", "3", "--piece-size", "64K", "--rack-size", "2",
        "--first-wave", "1", "--node-mbit", "200", "--seed-mbit", "200", "--timeout", "60",
    ]

    @Test func fourNodesInTwoRacksGetByteIdenticalCopiesAndTheLabLeavesNothingBehind() async throws {
        try await withDistributionLab("distlab", Self.arguments, timeout: 100, copies: 4) { lab in
            try await check(lab)
        }
    }

    func check(_ lab: DistributionLabRun) async throws {
        let record = lab.record
        #expect(record["method"] as? String == "waves")
        #expect((record["racks"] as? [[Int]]) == [[1, 2], [3, 4]])
        #expect(lab.source.count == 3 << 20)
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
        let made = try #require(lab.result["lab"] as? [String: Any])
        let prefix = try #require(made["prefix"] as? String)
        let created = try #require(made["namespaces"] as? [String])
        #expect(created.count == 6, "bridge, seed and 4 nodes: \(created)")
        let after = await namespaceNames()
        #expect(after.filter { $0.hasPrefix(prefix) }.isEmpty, "namespaces left behind: \(after)")
        let pids = try #require(made["pids"] as? [Int])
        #expect(pids.count >= 5, "seed and 4 agents: \(pids)")
        let alive = pids.filter { processExists(Int32($0)) }
        #expect(alive.isEmpty, "processes left behind: \(alive)")
    }
}
