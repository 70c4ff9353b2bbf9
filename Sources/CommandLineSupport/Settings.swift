import Foundation
import RackswarmCore
import Synchronization

/// Defaults for command-line options from the environment and from `/etc/rackswarm/reconciler.yaml`.
///
/// Precedence, highest first: a flag on the command line; `RACKSWARM_<KEY>` in the environment (the key upper-cased,
/// `-` as `_`: `RACKSWARM_STATE`, `RACKSWARM_SEED_PORT`); `<key>: value` in the file (`RACKSWARM_CONFIG` names
/// another file); the built-in default. Options read these through their default value, so `--help` shows the
/// default in force.
///
/// The file is flat `key: value` lines (YAML's block mapping of scalars, `#` comments, values optionally quoted).
/// An unknown key or a malformed line is a located error and the command does not start.
public enum Settings {
    /// Every key the file may hold: the long option names they set.
    public static let keys: Set<String> = [
        "repo", "ref", "path", "cache", "git-token", "git-user", "ssh-key", "state", "listen", "seed-port",
        "attempts", "token-file", "dnsmasq-hosts", "dnsmasq-pid-file", "heartbeat-listen", "log-level",
        "log-format", "retention", "advertise",
    ]

    /// The default file.
    public static let defaultFile = "/etc/rackswarm/reconciler.yaml"

    struct Loaded: Sendable {
        var values: [String: String] = [:]
        var problems: [String] = []
    }

    private static let loaded = Mutex<Loaded?>(nil)

    /// The file's path: `RACKSWARM_CONFIG`, else the default (which may be absent).
    static var file: String { ProcessInfo.processInfo.environment["RACKSWARM_CONFIG"] ?? defaultFile }

    /// The value for `key`, from the environment or the file; nil when neither sets it.
    public static func value(_ key: String) -> String? {
        let name = "RACKSWARM_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
        if let value = ProcessInfo.processInfo.environment[name] { return value }
        return load().values[key]
    }

    /// The value for `key`, or `fallback`.
    public static func value(_ key: String, _ fallback: String) -> String { value(key) ?? fallback }

    /// A whole-number setting; one that is not a number is reported by `check()` and `fallback` used meanwhile.
    public static func integer(_ key: String, _ fallback: Int) -> Int {
        guard let text = value(key) else { return fallback }
        guard let number = Int(text) else {
            loaded.withLock { $0?.problems.append("error: setting '\(key)' must be a whole number, not '\(text)'") }
            return fallback
        }
        return number
    }

    /// A duration setting in the one grammar of sizes and durations (`30d`, `12h`: `Quantity`); one that is malformed
    /// or out of range is reported by `check()`, and nil used meanwhile. Nil when unset.
    public static func duration(_ key: String, in range: ClosedRange<Duration> = Quantity.durations) -> Duration? {
        guard let text = value(key) else { return nil }
        do {
            return try Quantity.duration(text, in: range)
        } catch {
            loaded.withLock { $0?.problems.append("error: setting '\(key)': \(error)") }
            return nil
        }
    }

    /// The problems found in the file and in the values read so far, as located error lines; empty when none.
    public static func check() -> [String] {
        _ = load()
        return loaded.withLock { $0?.problems ?? [] }
    }

    static func load() -> Loaded {
        loaded.withLock { state in
            if let state { return state }
            let path = file
            var result = Loaded()
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                result = parse(text, file: path)
            } else if ProcessInfo.processInfo.environment["RACKSWARM_CONFIG"] != nil {
                result.problems.append("\(path): error: cannot read the settings file named by RACKSWARM_CONFIG")
            }
            state = result
            return result
        }
    }

    /// Parses `key: value` lines; problems are `file:line:col: error: …` with the line and a caret.
    static func parse(_ text: String, file: String) -> Loaded {
        var result = Loaded()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "---" { continue }
            func problem(_ column: Int, _ message: String) {
                result.problems.append("\(file):\(index + 1):\(column): error: \(message)\n  \(line)\n  "
                    + String(repeating: " ", count: column - 1) + "^")
            }
            guard !line.hasPrefix(" "), !line.hasPrefix("\t"), let colon = line.firstIndex(of: ":") else {
                problem(1, "expected 'key: value' (a flat mapping; see \(defaultFile) in the package)")
                continue
            }
            let key = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            guard keys.contains(key) else {
                problem(1, "unknown setting '\(key)'; settings are " + keys.sorted().joined(separator: ", "))
                continue
            }
            var value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'" {
                // A quoted value ends at its closing quote; only a comment may follow.
                let body = value.dropFirst()
                guard let close = body.firstIndex(of: quote),
                    body[body.index(after: close)...].trimmingCharacters(in: .whitespaces).isEmpty
                        || body[body.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("#")
                else {
                    problem(line.distance(from: line.startIndex, to: colon) + 3, "unterminated quoted value")
                    continue
                }
                value = String(body[..<close])
            } else if let hash = value.range(of: " #") {
                value = String(value[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            guard !value.isEmpty else {
                problem(line.distance(from: line.startIndex, to: colon) + 2, "setting '\(key)' has no value")
                continue
            }
            result.values[key] = value
        }
        return result
    }
}
