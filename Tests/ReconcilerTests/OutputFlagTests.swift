import Foundation
import LabSupport
import Testing

/// One output flag everywhere: every command of both executables that offers a format offers it as
/// `-o, --output text|json`, and no command names a file or a format any other way (`--json`, `--format`, an
/// `--output FILE`). Files go in `--out-file` or a positional argument. argument-parser's dump of the command tree
/// is walked, so a new command that strays fails here.
struct OutputFlagTests {
    @Test(arguments: ["reconcile", "provision-agent"])
    func everyFormatIsDashOTextOrJSON(_ executable: String) throws {
        let binary = URL(fileURLWithPath: ValidateCommandTests.binary).deletingLastPathComponent()
            .appendingPathComponent(executable).path
        let (status, stdout, stderr) = try runProcess(binary, ["--experimental-dump-help"])
        #expect(status == 0, "\(stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
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
            for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["commandName"] as? String != "help" {
                walk(sub, here)
            }
        }
        walk(try #require(root["command"] as? [String: Any]), "")
        if executable == "reconcile" {
            for command in ["reconcile plan", "reconcile apply", "reconcile status", "reconcile power",
                            "reconcile service", "reconcile pass"] {
                #expect(withOutput.contains(command), "\(command) has no -o, --output")
            }
        }
    }
}
