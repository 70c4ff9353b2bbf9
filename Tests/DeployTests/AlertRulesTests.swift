import Foundation
import LabSupport
import Testing

/// The shipped Prometheus rules, checked by Prometheus' own tool (Debian's `prometheus` package).
struct AlertRulesTests {
    static let rules = packageRoot + "/deploy/prometheus"

    @Test func promtoolAcceptsTheRules() async throws {
        let result = await runCommand("/usr/bin/promtool", ["check", "rules", Self.rules + "/alerts.yaml"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("SUCCESS: 4 rules found"), "\(result.output)")
    }

    /// Every alert has series that make it fire (and series that must not); promtool compares the alerts it
    /// computes with the expected ones, labels and annotations included.
    @Test func eachAlertFiresOnItsSeries() async throws {
        let result = await runCommand("/usr/bin/promtool", ["test", "rules", Self.rules + "/alerts.test.yaml"])
        #expect(result.status == 0, "\(result.output)")
        let tested = try String(contentsOfFile: Self.rules + "/alerts.test.yaml", encoding: .utf8)
        let shipped = try String(contentsOfFile: Self.rules + "/alerts.yaml", encoding: .utf8)
        for line in shipped.split(separator: "\n") where line.contains("- alert: ") {
            let name = line.split(separator: " ").last.map(String.init) ?? ""
            #expect(tested.contains("alertname: \(name)"), "\(name) has no test")
        }
    }

    /// The same test fails once a rule can no longer fire: the series test checks something.
    @Test func aRuleThatCannotFireFailsTheSeriesTest() async throws {
        let directory = NSTemporaryDirectory() + "rs-alerts-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let shipped = try String(contentsOfFile: Self.rules + "/alerts.yaml", encoding: .utf8)
        let broken = shipped.replacingOccurrences(of: "rackswarm_rollout_halted == 1",
                                                  with: "rackswarm_rollout_halted == 2")
        #expect(broken != shipped)
        try broken.write(toFile: directory + "/alerts.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.rules + "/alerts.test.yaml",
                                         toPath: directory + "/alerts.test.yaml")
        let result = await runCommand("/usr/bin/promtool", ["test", "rules", directory + "/alerts.test.yaml"])
        #expect(result.status != 0)
        #expect(result.output.contains("RackswarmFailureBudgetSpent"), "\(result.output)")
    }
}
