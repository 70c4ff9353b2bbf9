import ArgumentParser
import CommandLineSupport
import Foundation
import RackswarmCore
import Reconciler
import ReconcilerPostgres

/// `reconcile status [NODE]`: every node of the site by rack, or one node in depth, as the state store last saw it.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every node by rack: phase, image, services, last error, last seen; or one NODE in depth.")

    @Argument(help: "Show this node in depth: phase, last error, install report, journal tail.")
    var node: String?

    @OptionGroup var source: SourceOptions

    @Option(help: "State database.")
    var state: String = Settings.value("state", ".rackswarm/state.db")

    @OptionGroup var output: OutputOptions

    @OptionGroup var logging: LoggingOptions

    @Flag(help: "Redraw the table every --interval (in place on a terminal) until interrupted.")
    var watch = false

    @Option(help: .duration("Time between redraws with --watch (e.g. 2, 500ms)."), transform: Quantity.durationFlag())
    var interval: Duration = .seconds(2)

    func validate() throws {
        if watch && node != nil { throw ValidationError("--watch redraws every node; drop NODE") }
        if watch && output.output == .json { throw ValidationError("--watch draws the table; drop --output json") }
        guard interval > .zero else { throw ValidationError("--interval must be positive") }
    }

    struct Row: Codable {
        var node: String
        var rack: String
        var phase: String
        var image: String?
        var wantedImage: String
        var services: [String]
        var drifted: [String]
        var lastError: String?
        var lastSeen: Date?
        /// Download progress of the install in flight (or the last one), 0…100.
        var percent: Double?
    }

    func run() async throws {
        guard node == nil, !watch else {
            let (checkout, desired) = try source.loadSite(refusal: "no status can be shown")
            if let node { return try await describe(node, checkout: checkout, desired: desired) }
            return try await redraw(checkout: checkout, desired: desired)
        }
        // The store is read while the site loads: at 100,000 nodes each takes a good part of a core. A site that
        // fails to load still reports first (the read is awaited after it, and cancelled when it throws).
        let state = state
        async let read = Self.read(state)
        let (checkout, desired) = try source.loadSite(refusal: "no status can be shown")
        try await show(checkout: checkout, desired: desired, read: try await read)
        Terminal.finish(0)
    }

    /// What a table shows from the store: whether it exists, per node its overview, and who holds which rack.
    struct StoreRead: Sendable {
        var store: (any StateStore)?
        var overviews: [String: NodeOverview]
        var holders: [String: String]
        /// Rack to the address its holder serves the rack's nodes at.
        var servers: [String: String] = [:]
    }

    /// One read for the whole site: per node its record, latest journal entries and install report; on a shared
    /// PostgreSQL store also which reconciler holds which rack (an expired lease holds nothing).
    static func read(_ state: String) async throws -> StoreRead {
        let store = try await StateLocation.openExisting(state)
        let shared = store as? PostgresStateStore
        return StoreRead(store: store, overviews: try await store?.nodeOverviews() ?? [:],
                         holders: try await shared?.rackHolders() ?? [:],
                         servers: try await shared?.rackServers() ?? [:])
    }

    /// Redraws the table every `interval` until interrupted (`--watch`).
    func redraw(checkout: SiteSource.Checkout, desired: DesiredState) async throws {
        let inPlace = Terminal.standardOutput.isTerminal
        while true {
            // Home and clear below on a terminal; a separator line otherwise (a log keeps every frame).
            print(inPlace ? "\u{1B}[H\u{1B}[J" : "----", terminator: inPlace ? "" : "\n")
            try await show(checkout: checkout, desired: desired, read: try await Self.read(state))
            try await Task.sleep(for: interval)
        }
    }

    func show(checkout: SiteSource.Checkout, desired: DesiredState, read: StoreRead) async throws {
        let (store, overviews) = (read.store, read.overviews)
        // A holder is shown with the address it serves the rack's nodes at.
        let holders = read.holders.reduce(into: [String: String]()) { shown, held in
            shown[held.key] = held.value + (read.servers[held.key].map { " at \($0)" } ?? "")
        }
        var rows: [Row] = []
        rows.reserveCapacity(desired.nodes.count)
        // Sorted by index: a node is a large value, and sorting them moved every one several times.
        let nodes = desired.nodes
        let order = nodes.indices.sorted { a, b in
            let (left, right) = (nodes[a], nodes[b])
            return left.rack.value != right.rack.value ? left.rack.value < right.rack.value : left.name < right.name
        }
        // Each image's reference (`name@version`) built once, not once per node; the first of a repeated name.
        var references: [String: String] = [:]
        for image in desired.images where references[image.name] == nil { references[image.name] = image.reference }
        for node in order.lazy.map({ nodes[$0] }) {
            let overview = overviews[node.name]
            let record = overview?.record
            let activity = NodeActivity(node: node.name, overview: overview)
            let wanted = references[node.image.value] ?? node.image.value
            rows.append(Row(
                node: node.name, rack: node.rack.value, phase: activity.phase.rawValue,
                image: record?.status.image, wantedImage: wanted, services: record?.status.services ?? [],
                drifted: record?.status.drifted ?? [], lastError: activity.lastError, lastSeen: record?.lastSeen,
                percent: activity.phase == .downloading ? activity.percent : nil))
        }
        // Why the commit drives nothing, judged as a pass would (the last applied commit's verify policy).
        let site = source.source
        let blocked = await CommitGate(siteAt: { site.site(atCommit: $0, siteFile: $1) })
            .refusal(checkout, site: desired.site, lastApplied: try await store?.lastAppliedCommit())
        let now = Date()
        let windows = desired.site.windows
        let window: String? = windows.windows.isEmpty ? nil : windows.openUntil(now).map {
            "open until " + MaintenanceGate.format($0)
        } ?? windows.nextOpening(after: now).map { "closed; next opens " + MaintenanceGate.format($0) }
        switch output.output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            struct Document: Encodable {
                var site: String
                var commit: String?
                var blocked: String?
                var maintenanceWindow: String?
                var nodes: [Row]
                /// Rack to the reconciler holding it, on a shared store.
                var holders: [String: String]?
                /// Rack to the address its holder serves the rack's nodes at (boot files, reports, seed).
                var servers: [String: String]?
            }
            let shared = store is PostgresStateStore
            let document = Document(site: desired.site.name, commit: checkout.commit, blocked: blocked,
                                    maintenanceWindow: window, nodes: rows, holders: shared ? read.holders : nil,
                                    servers: shared ? read.servers : nil)
            try output.emit(String(decoding: try encoder.encode(document), as: UTF8.self) + "\n")
        case .text:
            var text = Self.table(rows, site: desired.site.name, commit: checkout.commit,
                                  holders: store is PostgresStateStore ? holders : nil) + "\n"
            if let window { text += "maintenance window: \(window)\n" }
            if let blocked { text += "Nothing runs: \(blocked).\n" }
            try output.emit(text)
        }
    }

    static let widths = [8, 15, 26, 20]

    /// Spaces to pad a cell with, by count (up to the widest column).
    private static let pads = (0...(widths.max() ?? 0)).map { String(repeating: " ", count: $0) }

    /// One line of left-aligned cells; the last cell is not padded.
    static func line(_ cells: [String]) -> String {
        var text = ""
        appendLine(cells, to: &text)
        return text
    }

    /// Appends one line of left-aligned cells to `out`: the last cell is not padded, nor is the line ended.
    static func appendLine(_ cells: [String], to out: inout String) {
        out += " "
        for (index, cell) in cells.enumerated() {
            out += " "
            out += cell
            guard index < widths.count, index < cells.count - 1 else { continue }
            let length = width(cell)
            if length < widths[index] { out += pads[widths[index] - length] }
        }
    }

    /// A cell's width in characters. Cells are ASCII but for odd names and errors: count bytes unless a byte says
    /// otherwise.
    private static func width(_ cell: String) -> Int {
        cell.utf8.allSatisfy { $0 < 0x80 } ? cell.utf8.count : cell.count
    }

    /// Appends a space and `cell`, padded with spaces to `width` characters.
    private static func appendCell(_ cell: String, width: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: cell.utf8)
        guard width > 0 else { return }
        let length = Self.width(cell)
        if length < width { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: width - length)) }
    }

    /// The table by rack; with `holders` (a shared store), each rack says which reconciler holds it. Rows come
    /// sorted by rack (then name), so a rack's rows follow one another. Written as bytes into one buffer: at
    /// 100,000 nodes a string per cell and per line was most of the table's cost, and appending to a string
    /// cost several times appending to bytes.
    static func table(_ rows: [Row], site: String, commit: String?, holders: [String: String]? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * 80)
        out += ("site \(site)" + (commit.map { " at commit \($0.prefix(12))" } ?? "") + "\n").utf8
        let header = line(["NODE", "PHASE", "IMAGE", "SERVICES", "LAST ERROR"]) + "\n"
        var byRack: [String: [Int]] = [:]
        for index in rows.indices { byRack[rows[index].rack, default: []].append(index) }
        var phases: [String: Int] = [:]
        for rack in byRack.keys.sorted() {
            let holder = holders.map { " (held by \($0[rack] ?? "nobody"))" } ?? ""
            out += "\nrack \(rack)\(holder)\n".utf8
            out += header.utf8
            for index in byRack[rack] ?? [] {
                appendRow(rows[index], to: &out)
                phases[rows[index].phase, default: 0] += 1
            }
        }
        out += ("\n" + phases.keys.sorted().map { "\(phases[$0] ?? 0) \($0)" }.joined(separator: ", ") + "\n").utf8
        return String(decoding: out, as: UTF8.self)
    }

    /// One node's line: node, phase (with the download's percent), image (`have -> wanted` when they differ),
    /// services (drifted ones marked), last error; empty trailing cells and trailing spaces left out.
    private static func appendRow(_ row: Row, to out: inout [UInt8]) {
        var services = ""
        for (index, service) in row.services.enumerated() {
            if index > 0 { services += "," }
            services += service
            if row.drifted.contains(service) { services += "(drift)" }
        }
        var phase = row.phase
        if let percent = row.percent { phase += " \(Int(percent))%" }
        let error = row.lastError ?? ""
        // The cells written one by one: an array of them per row cost as much as the rest of the line.
        out.append(UInt8(ascii: " "))
        appendCell(row.node, width: widths[0], to: &out)
        appendCell(phase, width: widths[1], to: &out)
        appendCell(row.image == row.wantedImage ? row.wantedImage : (row.image ?? "-") + " -> " + row.wantedImage,
                   width: widths[2], to: &out)
        appendCell(services.isEmpty ? "-" : services, width: error.isEmpty ? 0 : widths[3], to: &out)
        if !error.isEmpty { appendCell(error, width: 0, to: &out) }
        while out.last == UInt8(ascii: " ") { out.removeLast() }
        out.append(UInt8(ascii: "\n"))
    }
}
