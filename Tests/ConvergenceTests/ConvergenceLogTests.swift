import Foundation
import LabSupport
import Reconciler
import Testing

/// `reconcile apply --log-format json` on the loopback lab: the log a journald or Loki pipeline ingests. Every line
/// of standard error is one JSON object; each journaled action has a start and an end line with its node, rack and
/// kind; a failure is logged at warning or above with its error code.
struct ConvergenceLogTests {
    @Test func aConvergenceLogsEachActionStartAndEndAsJSONLines() async throws {
        let lab = try await LoopbackLab(nodes: 2, wrongPassword: ["r1n2"])
        defer { lab.tearDown() }
        let logFile = lab.root + "/apply.jsonl"
        let arguments = (lab.applyArguments + ["--log-format", "json", "--log-level", "info"])
            .map { "'\($0)'" }.joined(separator: " ")
        let process = try LabProcess(
            "/bin/sh", ["-c", "exec '\(lab.binaries)/reconcile' \(arguments) 2> '\(logFile)'"],
            environment: ["RACKSWARM_LAB_BMC_PASSWORD": LoopbackLab.password], outputFile: lab.root + "/apply.out")
        let status = await process.wait(timeout: 300)
        #expect(status == 1, "r1n2's BMC refuses the password: \(process.output)\n\(lab.diagnostics())")
        #expect(process.output.contains("1 stalled"), "\(process.output)")

        let text = try String(contentsOfFile: logFile, encoding: .utf8)
        var started: [Int64: [String: String]] = [:]
        var ended: [Int64: [String: String]] = [:]
        var lines = 0
        for line in text.split(separator: "\n") {
            lines += 1
            let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            let fields = try #require(parsed, "not a flat JSON object: \(line)")
            for key in ["ts", "level", "logger", "msg"] { #expect(fields[key] != nil, "no \(key) in \(line)") }
            guard let id = fields["action.id"].flatMap(Int64.init) else { continue }
            if fields["msg"] == "action started" { started[id] = fields }
            if fields["msg"] == "action finished" { ended[id] = fields }
        }
        #expect(lines > 10, "\(text)")

        // Every action the journal says ran has a start and an end line naming its node, rack and kind.
        let store = try SQLiteStateStore(path: lab.statePath)
        let ran = try await store.journal(node: nil).filter { $0.startedAt != nil }
        #expect(ran.count > 5)
        for entry in ran {
            for (what, lines) in [("start", started), ("end", ended)] {
                let fields = lines[entry.id]
                #expect(fields?["node"] == entry.action.node,
                        "no \(what) line for \(entry.action.kind) on \(entry.action.node)")
                #expect(fields?["rack"] == entry.action.rack)
                #expect(fields?["action.kind"] == entry.action.kind.rawValue)
            }
            // A finished action ends at info; one that failed at warning, with its error code.
            let end = ended[entry.id]
            if entry.state == .finished {
                #expect(end?["level"] == "info" && end?["outcome"] == "done")
            } else {
                #expect(end?["level"] == "warning" && ["stalled", "failed"].contains(end?["error.code"] ?? ""),
                        "\(end ?? [:])")
            }
        }
        // The node whose BMC refuses the password stalled, and the log says so with the BMC's reason.
        let refused = try #require(ran.first { $0.action.node == "r1n2" && $0.state == .failed })
        #expect(ended[refused.id]?["error.code"] == "stalled")
        #expect(ended[refused.id]?["error"]?.contains("authenticationFailed") == true, "\(ended[refused.id] ?? [:])")
    }
}
