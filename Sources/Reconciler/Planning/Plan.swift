/// One physical action the executor would take on one node.
///
/// Kept in 64 bytes, since a plan holds seven per node: the wave in 32 bits, and `service` and `held`, which most
/// actions lack, in one box (nil when neither is set).
public struct PlannedAction: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case writeBootEntry
        case setBootPXE
        case powerCycle
        case installImage
        case bootLocal
        case installService
        case uninstallService
        case verifyServices
        case powerOff
        case removeBootEntry
        /// A leaving node's entry that boots the install environment with `rackswarm.erase=MODE`.
        case writeEraseEntry
        /// Waits for the install environment to wipe the leaving node's disk and power it off.
        case eraseDisks
        /// Site key rotation: hands the node's agent its key from the current site key, in a request signed with
        /// its key from the previous one (`agent.previousKeyFile`). Done once the agent takes the current key.
        case rekeyAgent
    }

    public var node: String
    public var rack: String
    public var detail: String
    private var storedWave: Int32
    public var kind: Kind
    /// Wipes a disk or takes a running node down.
    public var destructive: Bool
    private var notes: Notes?

    /// Rollout wave, from 1; actions of one node share its wave.
    public var wave: Int {
        get { Int(storedWave) }
        set { storedWave = Int32(newValue) }
    }

    /// The service an `installService` / `uninstallService` action is about.
    public var service: String? {
        get { notes?.service }
        set { notes = Notes(service: newValue, held: held) }
    }

    /// Why the action does not run now (a closed maintenance window: `held until 2026-12-08T02:00Z`); nil runs.
    public var held: String? {
        get { notes?.held }
        set { notes = Notes(service: service, held: newValue) }
    }

    public init(node: String, rack: String, wave: Int, kind: Kind, destructive: Bool, detail: String,
                service: String? = nil, held: String? = nil) {
        self.node = node
        self.rack = rack
        self.detail = detail
        storedWave = Int32(wave)
        self.kind = kind
        self.destructive = destructive
        notes = Notes(service: service, held: held)
    }

    /// `service` and `held`, never changed in place (a change makes a new box).
    private final class Notes: Sendable {
        let service: String?
        let held: String?

        /// Nil when neither is set.
        init?(service: String?, held: String?) {
            guard service != nil || held != nil else { return nil }
            self.service = service
            self.held = held
        }
    }

    public static func == (a: PlannedAction, b: PlannedAction) -> Bool {
        a.node == b.node && a.rack == b.rack && a.wave == b.wave && a.kind == b.kind
            && a.destructive == b.destructive && a.detail == b.detail && a.service == b.service && a.held == b.held
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(node)
        hasher.combine(rack)
        hasher.combine(wave)
        hasher.combine(kind)
        hasher.combine(destructive)
        hasher.combine(detail)
        hasher.combine(service)
        hasher.combine(held)
    }

    private enum CodingKeys: String, CodingKey {
        case node, rack, wave, kind, destructive, detail, service, held
    }

    /// The fields by name, `service` and `held` left out when nil (as before the box).
    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.init(node: try fields.decode(String.self, forKey: .node),
                  rack: try fields.decode(String.self, forKey: .rack),
                  wave: try fields.decode(Int.self, forKey: .wave), kind: try fields.decode(Kind.self, forKey: .kind),
                  destructive: try fields.decode(Bool.self, forKey: .destructive),
                  detail: try fields.decode(String.self, forKey: .detail),
                  service: try fields.decodeIfPresent(String.self, forKey: .service),
                  held: try fields.decodeIfPresent(String.self, forKey: .held))
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(node, forKey: .node)
        try fields.encode(rack, forKey: .rack)
        try fields.encode(wave, forKey: .wave)
        try fields.encode(kind, forKey: .kind)
        try fields.encode(destructive, forKey: .destructive)
        try fields.encode(detail, forKey: .detail)
        try fields.encodeIfPresent(service, forKey: .service)
        try fields.encodeIfPresent(held, forKey: .held)
    }
}

/// Why a node is in the plan.
public enum NodeChange: String, Sendable, Hashable, Codable {
    case provision
    case reimage
    case services
    case decommission
    /// Only the agent's key changes (site key rotation).
    case rekey
}

/// The ordered actions that take the observed state to the desired state.
public struct Plan: Sendable, Hashable, Codable {
    public var actions: [PlannedAction]
    /// Each planned node and why, in plan order.
    public var changes: [String: NodeChange]
    /// Nodes that left the repo (or are `absent`) but are kept because pruning is off.
    public var orphaned: [String]
    /// Why nothing of this plan runs (`commit 1a2b3c4 is not signed by a trusted key`); nil when it may.
    public var blocked: String?

    public init(actions: [PlannedAction] = [], changes: [String: NodeChange] = [:], orphaned: [String] = []) {
        self.actions = actions
        self.changes = changes
        self.orphaned = orphaned
    }

    public var isEmpty: Bool { actions.isEmpty }

    public struct Summary: Sendable, Hashable, Codable {
        public var provision = 0
        public var reimage = 0
        public var serviceChanges = 0
        public var decommission = 0
        public var destructiveActions = 0
        public var orphaned = 0
        public var waves = 0
        public var actions = 0
        /// Actions a closed maintenance window holds; nil (left out of JSON) when none is.
        public var held: Int?
        /// Agents handed their key from the new site key; nil (left out of JSON) when none is.
        public var rekey: Int?
    }

    public var summary: Summary {
        var summary = Summary()
        for change in changes.values {
            switch change {
            case .provision: summary.provision += 1
            case .reimage: summary.reimage += 1
            case .services: summary.serviceChanges += 1
            case .decommission: summary.decommission += 1
            case .rekey: break
            }
        }
        // One pass by position: a filter or map here copied the plan's actions (96 bytes each) or their waves.
        var rekeys = 0
        var held = 0
        for index in actions.indices {
            if actions[index].kind == .rekeyAgent { rekeys += 1 }
            if actions[index].destructive { summary.destructiveActions += 1 }
            if actions[index].held != nil { held += 1 }
            summary.waves = max(summary.waves, actions[index].wave)
        }
        summary.rekey = rekeys > 0 ? rekeys : nil
        summary.orphaned = orphaned.count
        summary.actions = actions.count
        summary.held = held > 0 ? held : nil
        return summary
    }
}
