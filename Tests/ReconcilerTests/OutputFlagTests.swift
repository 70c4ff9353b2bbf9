import Foundation
import LabSupport
import Testing

/// One output flag everywhere: every command of both executables that prints a result offers `-o, --output
/// text|json`, and no command names a file or a format any other way (`--json`, `--format`, an `--output FILE`).
/// Files go in `--out-file` or a positional argument. argument-parser's dump of the command tree is walked, so a
/// new command that strays, or lacks the flag without a reason listed here, fails.
struct OutputFlagTests {
    /// The commands that print no result of their own, each with the reason. Kept small: a command leaves this
    /// list once it takes `-o`, and the test fails if one listed here has it (or no longer exists).
    static let exempt: [String: String] = [
        "reconcile image publish": "its --out-file is the .torrent it writes; its one line is a note for people",
        "reconcile boot dnsmasq-config": "prints dnsmasq's own configuration file, in dnsmasq's format",
        "reconcile dev generate-site": "developer tool: writes a site into --out-dir",
        "reconcile dev bench-load": "developer tool for benchmarks/: prints JSON only",
        "reconcile dev bench-plan": "developer tool for benchmarks/: prints JSON only",
        "reconcile dev bench-store": "developer tool for benchmarks/: prints JSON only",
        "reconcile dev journal-stress": "developer tool for the crash tests: journals in a loop until killed",
        "reconcile dev fill-store": "developer tool for benchmarks/: fills a state database",
        "reconcile dev bmc-sim": "developer tool for benchmarks/: simulated BMCs answering until killed",
        "reconcile dev lab-inventory": "developer tool for the labs: prints an inventory as JSON",
        "provision-agent serve": "a daemon run by systemd: it speaks through its log (--log-format json)",
        "provision-agent install": "run by the install environment: it reports to the boot server and logs",
        "provision-agent fetch": "its --out-file is the disk or file it downloads to; progress goes to the log",
        "provision-agent erase": "run by the install environment: it erases a disk and logs",
    ]

    @Test(arguments: ["reconcile", "provision-agent"])
    func everyCommandThatPrintsAResultTakesDashO(_ executable: String) async throws {
        let root = try await ValidateCommandTests.commandTree(of: executable)
        var leaves: [String] = []
        var withOutput: [String] = []
        func walk(_ command: [String: Any], _ path: String) {
            let name = command["commandName"] as? String ?? "?"
            let here = path.isEmpty ? name : path + " " + name
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(!names.contains { ["json", "format", "output-format"].contains($0) },
                        "\(here): \(names) is a second way to pick a format; use -o, --output text|json")
                guard names.contains("output") else { continue }
                withOutput.append(here)
                #expect(names.contains("o"), "\(here): --output without -o")
                #expect(argument["allValues"] as? [String] == ["text", "json"],
                        "\(here): --output takes \(argument["allValues"] ?? "a file"), not text|json")
            }
            let subcommands = (command["subcommands"] as? [[String: Any]] ?? [])
                .filter { $0["commandName"] as? String != "help" }
            if subcommands.isEmpty { leaves.append(here) }
            for sub in subcommands { walk(sub, here) }
        }
        walk(try #require(root["command"] as? [String: Any]), "")
        #expect(leaves.count >= (executable == "reconcile" ? 25 : 4), "the walk found too few commands: \(leaves)")
        for command in leaves where !withOutput.contains(command) {
            #expect(Self.exempt[command] != nil, "\(command) prints a result but has no -o, --output text|json")
        }
        for (command, _) in Self.exempt where command.hasPrefix(executable + " ") {
            #expect(leaves.contains(command), "\(command) is exempt but no longer exists: drop it from the list")
            #expect(!withOutput.contains(command), "\(command) takes -o now: drop it from the exempt list")
        }
        if executable == "reconcile" {
            for command in ["reconcile plan", "reconcile apply", "reconcile status", "reconcile power",
                            "reconcile service", "reconcile pass", "reconcile validate", "reconcile console",
                            "reconcile boot sync", "reconcile boot serve", "reconcile seed", "reconcile store backup",
                            "reconcile store prune", "reconcile store migrate"] {
                #expect(withOutput.contains(command), "\(command) has no -o, --output")
            }
        }
    }
}
