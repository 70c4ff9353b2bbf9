import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import Reconciler

/// `reconcile status NODE`: one node in depth, as `kubectl describe` shows one object.
struct NodeDescription: Codable {
    var site: String
    var commit: String?
    var node: String
    var rack: String
    var state: String
    var mac: String
    var ip: String
    var bmc: String
    var phase: String
    /// What the node is doing now (the action in flight), when it is.
    var action: String?
    var image: String?
    var wantedImage: String
    var services: [String]
    var wantedServices: [String]
    var drifted: [String]
    var lastError: String?
    var lastSeen: Date?
    var install: InstallProgress?
    /// What the install environment found on the node, as it last reported.
    var hardware: HardwareRecord?
    /// The node's newest journal entries, oldest first.
    var journal: [JournalEntry]
    /// How many entries the node's journal holds in all.
    var journalTotal: Int

    /// The text form: aligned `Key: value` lines, then the install report and the journal tail as tables.
    var text: String {
        func row(_ key: String, _ value: String) -> String {
            (key + ":").padding(toLength: 16, withPad: " ", startingAt: 0) + value + "\n"
        }
        func list(_ values: [String]) -> String { values.isEmpty ? "-" : values.joined(separator: ", ") }
        var out = row("Name", node) + row("Site", site + (commit.map { " at commit \($0.prefix(12))" } ?? ""))
        out += row("Rack", rack) + row("State", state) + row("MAC", mac) + row("IP", ip) + row("BMC", bmc)
        out += row("Phase", phase + (action.map { " (\($0))" } ?? ""))
        out += row("Image", (image ?? "-") + (image == wantedImage ? "" : " (wanted \(wantedImage))"))
        out += row("Services", list(services) + (services == wantedServices ? "" : " (wanted \(list(wantedServices)))"))
        out += row("Drifted", list(drifted))
        out += row("Last error", lastError ?? "-")
        out += row("Last seen", lastSeen.map(Self.time) ?? "never")
        out += "Install report:"
        if let install {
            let report = install.report
            out += "\n" + row("  Phase", report.phase.rawValue) + row("  Image", report.image)
            out += row("  Progress", String(format: "%.1f%% (%d bytes; %d from the seed, %d uploaded)",
                                            report.percent, report.downloaded, report.fromSeed, report.uploaded))
            if let error = report.error { out += row("  Error", error) }
            out += row("  Updated", Self.time(install.updatedAt))
            if let receiver = install.receivedBy { out += row("  Received by", receiver) }
        } else {
            out += " none\n"
        }
        out += "Hardware:"
        if let hardware {
            out += "\n" + hardware.inventory.lines.map { "  " + $0 + "\n" }.joined()
            out += row("  Reported", Self.time(hardware.updatedAt))
        } else {
            out += " not reported yet\n"
        }
        out += "Journal (newest \(journal.count) of \(journalTotal)):"
        guard !journal.isEmpty else { return out + " empty\n" }
        out += "\n  " + ["PLANNED", "STATE", "ACTION", "COMMIT", "DETAIL"].enumerated().map { index, title in
            index < 4 ? title.padding(toLength: [20, 9, 16, 12][index], withPad: " ", startingAt: 0) : title
        }.joined(separator: " ") + "\n"
        for entry in journal {
            let cells = [Self.time(entry.plannedAt), entry.state.rawValue, entry.action.kind.rawValue,
                         String((entry.commit ?? "-").prefix(12))]
            let padded = zip(cells, [20, 9, 16, 12]).map { $0.padding(toLength: max($1, $0.count), withPad: " ",
                                                                       startingAt: 0) }
            out += "  " + padded.joined(separator: " ") + " " + (entry.error ?? entry.action.detail) + "\n"
        }
        return out
    }

    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}

extension Status {
    /// How many journal entries `status NODE` shows.
    static let journalTail = 15

    /// One node of the site in depth; a node the site does not name is an error listing the close names.
    func describe(_ name: String, checkout: SiteSource.Checkout, desired: DesiredState) async throws {
        guard let node = desired.node(named: name) else {
            let close = desired.nodes.map(\.name).filter { $0.hasPrefix(String(name.prefix(2))) }.sorted().prefix(5)
            Terminal.standardError.write("error: the site has no node '\(name)'"
                + (close.isEmpty ? "" : "; nodes include \(close.joined(separator: ", "))") + "\n")
            throw ExitCode.failure
        }
        let store = try await StateLocation.openExisting(state)
        let record = try await store?.nodeRecord(name)
        let journal = try await store?.journal(node: name) ?? []
        let install = try await store?.installProgress(of: name)
        let activity = NodeActivity(node: name, record: record, journal: journal, install: install)
        let description = NodeDescription(
            site: desired.site.name, commit: checkout.commit, node: name, rack: node.rack.value,
            state: node.state.rawValue, mac: node.mac.value.description, ip: node.ip.value.description,
            bmc: node.bmc.endpoint.value.description, phase: activity.phase.rawValue,
            action: activity.action?.rawValue, image: record?.status.image,
            wantedImage: desired.image(named: node.image.value)?.reference ?? node.image.value,
            services: record?.status.services ?? [], wantedServices: node.serviceNames,
            drifted: record?.status.drifted ?? [], lastError: activity.lastError, lastSeen: record?.lastSeen,
            install: install,
            hardware: try await store?.hardware(of: name),
            journal: Array(journal.suffix(Self.journalTail)), journalTotal: journal.count)
        switch output.output {
        case .text: try output.emit(description.text)
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            try output.emit(String(decoding: try encoder.encode(description), as: UTF8.self) + "\n")
        }
    }
}
