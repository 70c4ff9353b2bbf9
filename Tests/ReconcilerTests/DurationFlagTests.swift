import Foundation
import LabSupport
import Testing

/// One duration syntax for every time flag (`90s`, `5m`, `1h30m`): argument-parser's dump of both command trees
/// is walked; each flag that takes a time must show its value as `<duration>` (`ArgumentHelp.duration`), and each
/// such flag, run with garbage, must fail with the duration grammar's own error and hint — so it parses through
/// `Quantity.duration`, not `Double` or `Int` seconds.
struct DurationFlagTests {
    /// A flag whose name or help says it takes a time.
    static func looksLikeTime(name: String, help: String) -> Bool {
        let names = ["timeout", "interval", "every", "ttl", "delay", "backoff", "retention", "refresh", "settle",
                     "latency", "step", "time", "seconds", "seed-for", "give-up", "wait", "period", "deadline"]
        let words = ["how long", "time between", "seconds", "duration"]
        return names.contains { name.contains($0) } || words.contains { help.lowercased().contains($0) }
    }

    struct Flag {
        var command: [String]
        var name: String
        var valueName: String
        var help: String
        var id: String { (command + ["--" + name]).joined(separator: " ") }
    }

    static func flags(of executable: String) async throws -> [Flag] {
        let root = try await ValidateCommandTests.commandTree(of: executable)
        var found: [Flag] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            let here = path + [command["commandName"] as? String ?? "?"]
            let arguments = command["arguments"] as? [[String: Any]] ?? []
            for argument in arguments where argument["kind"] as? String == "option" {
                let preferred = argument["preferredName"] as? [String: Any]
                guard let name = preferred?["name"] as? String, preferred?["kind"] as? String == "long" else {
                    continue
                }
                found.append(Flag(command: here, name: name, valueName: argument["valueName"] as? String ?? "",
                                  help: argument["abstract"] as? String ?? ""))
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["commandName"] as? String != "help" {
                walk(sub, here)
            }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        return found
    }

    @Test(arguments: ["reconcile", "provision-agent"])
    func everyTimeFlagTakesTheDurationGrammar(_ executable: String) async throws {
        let binary = URL(fileURLWithPath: ValidateCommandTests.binary).deletingLastPathComponent()
            .appendingPathComponent(executable).path
        let flags = try await Self.flags(of: executable)
        let durations = flags.filter { $0.valueName == "duration" }
        // Not vacuous: the walk sees the time flags we know of (11 on reconcile, 7 on the agent at the time of
        // writing).
        #expect(durations.count >= (executable == "reconcile" ? 11 : 7), "\(durations.map(\.id))")
        // No exceptions: every time flag takes the grammar (down to microseconds, so sub-millisecond ones too).
        for flag in flags where Self.looksLikeTime(name: flag.name, help: flag.help) {
            #expect(flag.valueName == "duration",
                    "\(flag.id) takes a time as <\(flag.valueName)>: use help: .duration(…) and Quantity's parser")
        }
        for flag in durations {
            let (status, _, stderr) = try await runProcess(binary, Array(flag.command.dropFirst()) + ["--" + flag.name,
                                                                                               "1h30x"])
            #expect(status == 64, "\(flag.id) 1h30x: exit \(status)")
            #expect(stderr.contains("malformed duration '1h30x'; write it like 30s, 5m or 1h30m"),
                    "\(flag.id) 1h30x: \(stderr)")
        }
    }
}
