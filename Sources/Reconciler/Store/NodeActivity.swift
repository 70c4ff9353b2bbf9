import Foundation
import MemberwiseInit
import RackswarmCore
import ReconcilerModel

/// What a node is doing now, as an operator reads it: derived from its stored status, its journal and its latest
/// install report. `reconcile status` and the web console show this; the planner never reads it.
@PublicMemberwiseInit
public struct NodeActivity: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
        /// Never seen and nothing planned yet.
        case unknown
        /// Actions are journaled for it and none has started.
        case planned
        /// A power step is running (cycle, off).
        case powering
        /// Its boot entry is being written or it is network-booting into the install environment.
        case pxe
        /// The install environment is fetching the image (`percent` says how far).
        case downloading
        /// The image is written; post actions and the reboot into the installed system are running.
        case installing
        /// Services are being installed, removed or verified.
        case services
        case ready
        /// Stopped, waiting for a human (bad credentials, a missing image); `lastError` says why.
        case stalled
        /// Retries ran out; `lastError` says why.
        case failed
        case decommissioned
    }

    public var node: String
    public var phase: Phase
    /// Download progress, 0…100, while downloading (and the last value after).
    public var percent: Double?
    public var lastError: String?
    /// The action running now or last run.
    public var action: PlannedAction.Kind?
    public var since: Date?

    /// Derives a node's activity from what a status view read about it (`StateStore.nodeOverviews`).
    public init(node: String, overview: NodeOverview?) {
        self.init(node: node, record: overview?.record, journal: overview?.journal ?? [], install: overview?.install)
    }

    /// Derives a node's activity. `journal` is the node's journal, oldest first.
    public init(node: String, record: NodeRecord?, journal: [JournalEntry], install: InstallProgress?) {
        self.node = node
        lastError = record?.lastError
        percent = install.map(\.report.percent)
        // The step running now, else the newest entry: pending work, a stop, or the end of a run.
        let latest = journal.last(where: { $0.state == .started }) ?? journal.last
        action = latest?.action.kind
        since = latest.map { $0.finishedAt ?? $0.startedAt ?? $0.plannedAt } ?? record?.lastSeen
        switch record?.status.phase {
        case .decommissioned?:
            phase = .decommissioned
            return
        case .failed?:
            phase = .failed
            return
        default: break
        }
        guard let latest else {
            phase = record?.status.phase == .ready ? .ready : .unknown
            return
        }
        switch latest.state {
        case .planned: phase = .planned
        case .started: phase = Self.phase(running: latest.action.kind, install: install?.report)
        case .finished: phase = record?.status.phase == .ready ? .ready : .planned
        case .failed:
            // The executor marks a node failed when retries run out; a failed step on a node still not failed
            // stopped it for a human.
            phase = .stalled
            lastError = lastError ?? latest.error
        }
    }

    static func phase(running kind: PlannedAction.Kind, install: InstallReport?) -> Phase {
        switch kind {
        case .writeBootEntry, .setBootPXE, .writeEraseEntry: return .pxe
        case .powerCycle, .powerOff, .removeBootEntry, .eraseDisks: return .powering
        case .bootLocal: return .installing
        case .installService, .uninstallService, .verifyServices, .rekeyAgent: return .services
        case .installImage:
            switch install?.phase {
            case nil, .booted?: return .pxe
            case .downloading?: return .downloading
            case .written?, .postInstalled?, .rebooting?, .failed?: return .installing
            }
        }
    }
}
