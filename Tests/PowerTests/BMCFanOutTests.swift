import Drivers
import Foundation
import LabSupport
import NIOCore
import Testing

/// `reconcile power` over hundreds of simulated BMCs (`SimulatedBMCs`), some silent, and the fan-out under it.
/// Not timed: `benchmarks/bench-fanout.sh` measures the time against the number of BMCs and against ipmipower.
struct BMCFanOutTests {
    /// `count` simulated BMCs on loopback addresses from 127.79.0.1, each on a port the kernel picks.
    static func withBMCs(count: Int, silentPercent: Int, _ body: (SimulatedBMCs) async throws -> Void)
        async throws
    {
        let bmcs = try await SimulatedBMCs.start(
            count: count, firstAddress: "127.79.0.1", silentPercent: silentPercent, username: "admin",
            password: "pass")
        do {
            try await body(bmcs)
        } catch {
            await bmcs.shutdown()
            throw error
        }
        await bmcs.shutdown()
    }

    @Test func everySilentBMCIsReportedUnreachableAndEveryOtherWithItsRealState() async throws {
        try await Self.withBMCs(count: 300, silentPercent: 20) { bmcs in
            let directory = try TemporaryDirectory("rs-fanout-\(getpid())")
            try directory.write("bmcs", Data(bmcs.urls.joined(separator: "\n").utf8))
            let list = URL(fileURLWithPath: directory.path + "/bmcs")
            let result = try await runProcessAsync(
                PowerCommandTests.reconcile.path,
                ["power", "--bmc-list", list.path, "--credentials", "env:RS_TEST_BMC_PASSWORD", "--timeout", "2s",
                 "--retries", "3", "--concurrency", "16", "--output", "json", "status"],
                environment: ["RS_TEST_BMC_PASSWORD": "pass"])
            #expect(result.status == 1, "a silent BMC makes the command fail: \(result.stderr)")
            struct Row: Decodable {
                struct Failure: Decodable {
                    var code: String
                    var detail: String
                }

                var bmc: String
                var ok: Bool
                var state: String?
                var error: Failure?
            }
            let rows = try JSONDecoder().decode([Row].self, from: Data(result.stdout.utf8))
            try #require(rows.count == 300)
            let silent = (0..<300).filter { bmcs.isSilent($0) }
            #expect(silent.count == 60)
            for (index, row) in rows.enumerated() {
                #expect(row.bmc == bmcs.urls[index])
                if bmcs.isSilent(index) {
                    #expect(!row.ok && row.state == nil)
                    #expect(row.error?.code == "unreachable")
                    #expect(row.error?.detail.contains("no answer after 4 tries of 2.0 seconds") == true,
                            "\(row.error?.detail ?? "no error")")
                    // Asked four times (Get Channel Authentication Capabilities and Open Session each time).
                    #expect(bmcs.datagramsReceived(index) == 8)
                } else {
                    #expect(row.ok, "\(row.bmc): \(row.error?.detail ?? "")")
                    #expect(row.state == (bmcs.isPoweredOn(index) ? "on" : "off"))
                }
            }
        }
    }

    @Test func ipmitoolReadsTheSimulatedBMCsAsItReadsIpmiSim() async throws {
        try await Self.withBMCs(count: 5, silentPercent: 20) { bmcs in
            for index in 0..<4 {
                let address = try #require(bmcs.addresses[index].ipAddress)
                let port = try #require(bmcs.addresses[index].port)
                for suite in ["3", "17"] {
                    let result = try await runProcessAsync(
                        "/usr/bin/ipmitool",
                        ["-I", "lanplus", "-H", address, "-p", "\(port)", "-U", "admin", "-P", "pass", "-C", suite,
                         "chassis", "power", "status"])
                    #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
                    #expect(result.stdout.contains(bmcs.isPoweredOn(index) ? "is on" : "is off"), "\(result.stdout)")
                }
            }
            let off = try await runProcessAsync(
                "/usr/bin/ipmitool",
                ["-I", "lanplus", "-H", try #require(bmcs.addresses[0].ipAddress), "-p",
                 "\(try #require(bmcs.addresses[0].port))", "-U", "admin", "-P", "pass", "chassis", "power", "off"])
            #expect(off.status == 0, "\(off.stdout) \(off.stderr)")
            #expect(!bmcs.isPoweredOn(0))
        }
    }

    /// Calls that stall stop counting against the limit: with a limit of 2, ten calls that each stall and then wait
    /// until all ten have started all finish; calls that do not stall never run more than 2 at once.
    @Test func stalledCallsLetOthersStartAndActiveOnesStayUnderTheLimit() async throws {
        let started = Locked(0)
        let active = Locked((now: 0, most: 0))
        let results = await boundedConcurrentMap(Array(0..<20), limit: 2) { index -> Bool in
            if index % 2 == 0 {
                active.update { $0.now += 1; $0.most = max($0.most, $0.now) }
                try? await Task.sleep(for: .milliseconds(5))
                active.update { $0.now -= 1 }
                return true
            }
            FanOutSlot.current?.stalled()
            started.update { $0 += 1 }
            let deadline = ContinuousClock.now.advanced(by: .seconds(20))
            while started.value < 10, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
            return started.value == 10
        }
        #expect(results.allSatisfy { $0 }, "the stalled calls waited for each other: they held the slots")
        #expect(active.value.most <= 2)
    }
}

extension BMCFanOutTests {
    /// A call's patience (how long it may wait for an answer before giving up its place) is unknown before any
    /// answer, a few answer times once peers answer quickly, and grows with the answer times when answers come
    /// late (a process reading them behind its queue), so fewer calls start while the answers lag.
    @Test func patienceFollowsTheAnswerTimes() async {
        let seen = await boundedConcurrentMap(Array(0..<40), limit: 1) { index -> Duration? in
            let slot = FanOutSlot.current
            let patience = slot?.patience
            slot?.answered(after: index < 20 ? .milliseconds(4) : .milliseconds(400))
            return patience
        }
        #expect(seen[0] == nil, "no answer yet: a whole request timeout")
        for patience in seen[2..<20] {
            #expect(patience.map { $0 >= .milliseconds(10) && $0 < .milliseconds(40) } == true, "\(patience as Any)")
        }
        #expect(seen[39].map { $0 > .milliseconds(400) } == true, "\(seen[39] as Any)")
        // Outside a fan-out there is no slot: the IPMI driver waits its whole timeout, as before.
        #expect(FanOutSlot.current == nil)
    }
}

/// A value behind a lock, for counters shared by concurrent calls.
private final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) {
        stored = value
    }

    var value: Value { lock.withLock { stored } }

    func update(_ change: (inout Value) -> Void) {
        lock.withLock { change(&stored) }
    }
}
