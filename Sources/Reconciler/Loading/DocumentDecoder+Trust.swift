import Foundation
import ReconcilerModel

/// The Site and Rack fields that say who may change the machines and when: `verify` (trusted commit signers),
/// `rollout.windows` (maintenance windows), `ipmi.cipherSuites` and the agent keys.
extension DocumentDecoder {
    /// `agent: {port: 7700, keyFile: /etc/rackswarm/site.key, previousKeyFile: /etc/rackswarm/site.key.old}`.
    mutating func decodeAgent(_ node: YAMLNode) -> AgentSettings {
        var agent = AgentSettings.defaults
        guard let reader = fields.mapping(node, "agent", known: ["port", "keyFile", "previousKeyFile"]) else {
            return agent
        }
        if let v = reader.value("port"), let n = fields.int(v, "agent.port", range: 1...65535) { agent.port = n }
        for name in ["keyFile", "previousKeyFile"] {
            guard let v = reader.value(name), let path = fields.string(v, "agent.\(name)") else { continue }
            guard path.hasPrefix("/") else {
                fields.error(v, "agent.\(name) '\(path)' must be an absolute path")
                continue
            }
            if name == "keyFile" { agent.keyFile = path } else { agent.previousKeyFile = path }
        }
        if agent.previousKeyFile == agent.keyFile, let v = reader.value("previousKeyFile") {
            fields.error(v, "agent.previousKeyFile names the same file as agent.keyFile",
                         hint: "a rotation keeps the old site key in a file of its own until every node has the new")
        }
        return agent
    }

    /// `verify: {provider: ssh|gpg, keys: ["ssh-ed25519 …", {file: /etc/rackswarm/keys/alice.pub}]}`.
    mutating func decodeVerify(_ node: YAMLNode) -> CommitVerification? {
        guard let reader = fields.mapping(node, "verify", known: ["provider", "keys"]),
              let provider: CommitVerification.Provider = fields.require(reader, "provider")
                .flatMap({ fields.enumeration($0, "verify.provider") }),
              let keysNode = fields.require(reader, "keys")
        else { return nil }
        guard case .sequence(let items) = keysNode.content, !items.isEmpty else {
            fields.error(keysNode, "expected a non-empty list of public keys for verify.keys, "
                         + "found \(keysNode.shapeName)")
            return nil
        }
        var keys: [CommitVerification.Key] = []
        for item in items {
            if case .mapping = item.content {
                guard let file = fields.mapping(item, "a verify key", known: ["file"]),
                      let path = fields.require(file, "file").flatMap({ fields.string($0, "verify key file") })
                else { continue }
                guard path.hasPrefix("/") else {
                    fields.error(file.value("file") ?? item, "verify key file '\(path)' must be an absolute path",
                                 hint: "the file is read on the reconciler's host, outside the repo")
                    continue
                }
                keys.append(.file(path))
            } else if let text = fields.string(item, "a verify key") {
                let looksRight = provider == .ssh ? text.hasPrefix("ssh-") || text.hasPrefix("ecdsa-")
                    || text.hasPrefix("sk-") : text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----")
                guard looksRight else {
                    fields.error(item, provider == .ssh
                                 ? "verify key is not an OpenSSH public key ('ssh-ed25519 AAAA…')"
                                 : "verify key is not an armoured OpenPGP public key block")
                    continue
                }
                keys.append(.inline(text))
            }
        }
        return CommitVerification(provider: provider, keys: keys, location: fields.location(node))
    }

    /// `ipmi: {cipherSuites: [17, 3]}`: the suites allowed, strongest first.
    mutating func decodeIPMI(_ node: YAMLNode) -> [Int]? {
        guard let reader = fields.mapping(node, "ipmi", known: ["cipherSuites"]) else { return nil }
        guard let list = reader.value("cipherSuites") else { return [17, 3] }
        guard case .sequence(let items) = list.content, !items.isEmpty else {
            fields.error(list, "expected a non-empty list for ipmi.cipherSuites, found \(list.shapeName)")
            return nil
        }
        var suites: [Int] = []
        for item in items {
            guard let suite = fields.int(item, "an IPMI cipher suite", range: 0...255) else { continue }
            guard suite == 17 || suite == 3 else {
                fields.error(item, "unsupported IPMI cipher suite \(suite); rackswarm speaks 17 and 3")
                continue
            }
            if !suites.contains(suite) { suites.append(suite) }
        }
        return suites.sorted(by: >)
    }

    /// `rollout.windows` (a list of weekly ranges or cron openings) and `rollout.windowScope` of a Site or Rack.
    mutating func decodeWindows(_ rollout: MappingReader) -> MaintenanceWindows? {
        guard let list = rollout.value("windows") else { return nil }
        var scope = MaintenanceWindows.Scope.destructive
        if let node = rollout.value("windowScope"), let value: MaintenanceWindows.Scope =
            fields.enumeration(node, "rollout.windowScope") {
            scope = value
        }
        guard case .sequence(let items) = list.content else {
            fields.error(list, "expected a list of maintenance windows for rollout.windows, found \(list.shapeName)")
            return nil
        }
        return MaintenanceWindows(windows: items.compactMap { decodeWindow($0) }, scope: scope)
    }

    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    private mutating func decodeWindow(_ item: YAMLNode) -> MaintenanceWindow? {
        guard let reader = fields.mapping(item, "a maintenance window",
                                          known: ["days", "start", "end", "cron", "duration", "timeZone"])
        else { return nil }
        // Every field is checked before giving up, so one run shows every mistake.
        var zone: TimeZone?
        if let zoneNode = fields.require(reader, "timeZone"), let name = fields.string(zoneNode, "timeZone") {
            zone = TimeZone(identifier: name)
            if zone == nil {
                fields.error(zoneNode, "unknown time zone '\(name)'", hint: "use an IANA name: UTC, Europe/Berlin")
            }
        }
        let location = fields.location(item)
        if let cronNode = reader.value("cron") {
            if let extra = reader.keyNode("days") ?? reader.keyNode("start") ?? reader.keyNode("end") {
                fields.error(extra, "a maintenance window takes 'cron' + 'duration' or 'days' + 'start' + 'end', "
                             + "not both")
                return nil
            }
            var minutes: Int?
            if let node = fields.require(reader, "duration"), let duration = fields.duration(node, "duration") {
                minutes = Int(duration.components.seconds / 60)
                if let value = minutes, value < 1 || value > 7 * 1440 {
                    fields.error(node, "a window's duration must be between 1m and 7 days")
                    minutes = nil
                }
            }
            var expression: CronExpression?
            if let text = fields.string(cronNode, "cron") {
                do throws(CronError) {
                    expression = try CronExpression(parsing: text)
                } catch {
                    fields.error(cronNode, "invalid cron expression '\(text)': \(error.description)")
                }
            }
            guard let zone, let minutes, let expression else { return nil }
            return MaintenanceWindow(schedule: .cron(expression, minutes: minutes), timeZone: zone, location: location)
        }
        var days: Set<Int> = []
        if let daysNode = fields.require(reader, "days"), let names = fields.stringList(daysNode, "days") {
            for name in names {
                guard name.value.count >= 3,
                      let day = Self.dayNames.firstIndex(of: String(name.value.lowercased().prefix(3)))
                else {
                    fields.diagnostics.append(.error(at: name.location, "unknown day '\(name.value)'; expected one of "
                        + Self.dayNames.joined(separator: ", ")))
                    continue
                }
                days.insert(day)
            }
        }
        let start = fields.require(reader, "start").flatMap { clock($0, "start") }
        let end = fields.require(reader, "end").flatMap { clock($0, "end") }
        guard let zone, let start, let end, !days.isEmpty else { return nil }
        return MaintenanceWindow(schedule: .weekly(days: days, start: start, end: end), timeZone: zone,
                                 location: location)
    }

    /// `"02:00"` → minutes after midnight (`"24:00"` is the end of the day).
    private mutating func clock(_ node: YAMLNode, _ what: String) -> Int? {
        guard let text = fields.string(node, what) else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
              (0...59).contains(minute), (0...23).contains(hour) || (hour == 24 && minute == 0)
        else {
            fields.error(node, "\(what) must be a time of day as \"HH:MM\", found '\(text)'")
            return nil
        }
        return (hour * 60 + minute) % 1440
    }
}
