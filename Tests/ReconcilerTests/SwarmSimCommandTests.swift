import Foundation
import LabSupport
import Testing

/// `reconcile dev swarm-sim` reads its hop latency and time step with the one duration grammar, down to 1 µs.
struct SwarmSimCommandTests {
    func simulate(_ flags: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runProcess(ValidateCommandTests.binary,
                       ["dev", "swarm-sim", "--peers", "4", "--file", "1M", "--piece", "256K", "-o", "json"] + flags)
    }

    /// The simulated result without what the run cost (wall time, CPU time and memory differ between runs).
    func result(_ json: String) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
        return object.filter { !["wall_s", "cpu_s", "max_rss_mib"].contains($0.key) }.compactMapValues { $0 as? Double }
    }

    @Test func unitsAndDecimalSecondsGiveTheSameRun() async throws {
        let units = try await simulate(["--hop-latency", "50us", "--step", "1ms"])
        let micro = try await simulate(["--hop-latency", "50\u{B5}s", "--step", "1000us"])
        let decimals = try await simulate(["--hop-latency", "0.00005", "--step", "0.001"])
        let slower = try await simulate(["--hop-latency", "20ms", "--step", "1ms"])
        #expect(units.status == 0 && micro.status == 0 && decimals.status == 0 && slower.status == 0,
                "\(units.stderr)\(micro.stderr)\(decimals.stderr)\(slower.stderr)")
        let makespan = try result(units.stdout)["makespan_s"]
        #expect(makespan != nil && makespan ?? 0 > 0, "\(units.stdout)")
        #expect(try result(units.stdout) == result(micro.stdout))
        #expect(try result(units.stdout) == result(decimals.stdout))
        // The latency is used: 20 ms per hop makes the run longer than 50 µs does.
        #expect(try (result(slower.stdout)["makespan_s"] ?? 0) > (makespan ?? 0))
    }

    /// With SWIFT_DETERMINISTIC_HASHING=1 (as `bench-swarm-sim.sh` runs it), a configuration and its `--seed` replay
    /// the same run in another process (without it, dictionaries' order, and so the order the engine visits its
    /// peers in, follows their storage's addresses).
    @Test func theSameSeedReplaysTheSameRun() async throws {
        let flags = ["dev", "swarm-sim", "--peers", "8", "--file", "4M", "--piece", "256K", "--node-rate", "40Mbit",
                     "--seed-rate", "40Mbit", "--seed", "7", "-o", "json"]
        let fixed = ["SWIFT_DETERMINISTIC_HASHING": "1"]
        let first = try await runProcess(ValidateCommandTests.binary, flags, environment: fixed)
        let second = try await runProcess(ValidateCommandTests.binary, flags, environment: fixed)
        #expect(first.status == 0 && second.status == 0, "\(first.stderr)\(second.stderr)")
        let times = { (json: String) throws -> [Double] in
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
            return (object["node_times_s"] as? [Double]) ?? []
        }
        #expect(try times(first.stdout).count == 8)
        #expect(try times(first.stdout) == times(second.stdout))
        #expect(try result(first.stdout) == result(second.stdout))
    }

    @Test(arguments: [
        (["--step", "0"], "between 1us and 1s"), (["--step", "2s"], "between 1us and 1s"),
        (["--step", "0.0000001"], "malformed duration"), (["--hop-latency", "1001ms"], "between 0s and 1s"),
        (["--hop-latency", "5 us"], "malformed duration"),
    ])
    func outOfRangeOrMalformedIsRejected(flags: [String], message: String) async throws {
        let run = try await simulate(flags)
        #expect(run.status == 64, "\(run.stdout)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
