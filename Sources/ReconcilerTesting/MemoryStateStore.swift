import Foundation
import RackswarmCore
import ReconcilerModel
import ReconcilerStore

/// An in-memory state store for unit tests of the planner and executor. Same rules as the SQLite store.
public actor MemoryStateStore: StateStore {
    private var records: [String: NodeRecord] = [:]
    private var commit: String?
    private var entries: [JournalEntry] = []
    private var installs: [String: InstallProgress] = [:]
    private var hardware: [String: HardwareRecord] = [:]
    private var remembered: [String: RememberedNode] = [:]
    private var samples: [InstallSample] = []
    private var suspensions: [String: RackSuspension] = [:]
    private var pendingPass: PassRequest?
    private var audit: [OperatorAction] = []

    public init() {}

    public func observedState() -> ObservedState {
        ObservedState(nodes: records.mapValues(\.status))
    }

    public func record(_ status: NodeStatus, lastError: String?, for node: String, at time: Date) {
        records[node] = NodeRecord(name: node, status: status, lastError: lastError, lastSeen: time)
    }

    public func nodeRecord(_ node: String) -> NodeRecord? { records[node] }

    public func lastAppliedCommit() -> String? { commit }

    public func setLastAppliedCommit(_ commit: String, at time: Date) { self.commit = commit }

    public func journalPlanned(_ actions: [PlannedAction], commit: String?, at time: Date) -> [Int64] {
        actions.map { action in
            let id = Int64(entries.count + 1)
            entries.append(JournalEntry(id: id, commit: commit, action: action, state: .planned, error: nil,
                                        plannedAt: time, startedAt: nil, finishedAt: nil))
            return id
        }
    }

    public func journalStarted(_ id: Int64, at time: Date) throws {
        try transition(id, from: [.planned], to: .started) { $0.startedAt = time }
    }

    public func journalFinished(_ id: Int64, at time: Date) throws {
        try transition(id, from: [.started], to: .finished) { $0.finishedAt = time }
    }

    public func journalFailed(_ id: Int64, error: String, at time: Date) throws {
        try transition(id, from: [.planned, .started], to: .failed) {
            $0.finishedAt = time
            $0.error = error
        }
    }

    public func unfinishedActions() -> [JournalEntry] { entries.filter { $0.state == .started } }

    public func journal(node: String?) -> [JournalEntry] {
        node.map { name in entries.filter { $0.action.node == name } } ?? entries
    }

    public func recordInstall(_ report: InstallReport, for node: String, at time: Date) {
        recordInstall(report, for: node, at: time, receivedBy: nil)
    }

    public func recordInstall(_ report: InstallReport, for node: String, at time: Date, receivedBy: String?) {
        var report = report
        if let inventory = report.hardware { hardware[node] = HardwareRecord(inventory: inventory, updatedAt: time) }
        report.hardware = nil
        installs[node] = InstallProgress(report: report, updatedAt: time, receivedBy: receivedBy)
        samples.removeAll { $0.at < time.addingTimeInterval(-installSampleRetention) }
        samples.append(InstallSample(node: node, image: report.image, at: time, downloaded: report.downloaded,
                                     uploaded: report.uploaded, fromSeed: report.fromSeed))
    }

    public func installProgress() -> [String: InstallProgress] { installs }

    public func installProgress(of node: String) -> InstallProgress? { installs[node] }

    public func hardware(of node: String) -> HardwareRecord? { hardware[node] }

    public func remember(_ node: RememberedNode, at time: Date) { remembered[node.name] = node }

    public func rememberedNodes() -> [String: RememberedNode] { remembered }

    public func installSamples(since: Date) -> [InstallSample] {
        samples.filter { $0.at >= since }.sorted { $0.at < $1.at }
    }

    public func suspendRack(_ rack: String, actor: String, remote: String?, at time: Date) {
        if suspensions[rack] == nil { suspensions[rack] = RackSuspension(rack: rack, actor: actor, since: time) }
        audit(.suspendRack, target: rack, actor: actor, remote: remote, at: time)
    }

    public func resumeRack(_ rack: String, actor: String, remote: String?, at time: Date) {
        suspensions[rack] = nil
        audit(.resumeRack, target: rack, actor: actor, remote: remote, at: time)
    }

    public func suspendedRacks() -> Set<String> { Set(suspensions.keys) }

    public func rackSuspensions() -> [RackSuspension] { suspensions.values.sorted { $0.rack < $1.rack } }

    public func requestPass(actor: String, remote: String?, at time: Date) {
        pendingPass = PassRequest(actor: actor, at: time)
        audit(.requestPass, target: nil, actor: actor, remote: remote, at: time)
    }

    public func passRequest() -> PassRequest? { pendingPass }

    public func clearPassRequest(through time: Date) {
        if let pendingPass, pendingPass.at <= time { self.pendingPass = nil }
    }

    public func operatorActions() -> [OperatorAction] { audit }

    private func audit(_ kind: OperatorAction.Kind, target: String?, actor: String, remote: String?, at time: Date) {
        audit.append(OperatorAction(id: Int64(audit.count + 1), actor: actor, kind: kind, target: target,
                                    remote: remote, at: time))
    }

    private func transition(
        _ id: Int64, from: [JournalEntry.State], to: JournalEntry.State, _ update: (inout JournalEntry) -> Void
    ) throws {
        guard let index = entries.firstIndex(where: { $0.id == id }) else {
            throw StateStoreError(.unknownJournalEntry, "no journal entry \(id)")
        }
        guard from.contains(entries[index].state) else {
            throw StateStoreError(.invalidTransition,
                                  "journal entry \(id) is \(entries[index].state.rawValue); cannot become \(to.rawValue)")
        }
        entries[index].state = to
        update(&entries[index])
    }
}
