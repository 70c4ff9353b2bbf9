import MemberwiseInit

/// Computes the plan: pure, deterministic, no I/O, no clock.
///
/// A new node (or one whose image changed) is provisioned in the lifecycle order: write its PXE entry, set boot
/// device PXE, power cycle, install the image, boot local, install its services in install order, verify.
/// Nodes are grouped in waves per rack — the rack's `firstWave` nodes first, then the rest once those can seed
/// — with at most `maxUnavailable` nodes of a rack and `concurrency` nodes of the site in one wave.
public enum Planner {
    @PublicMemberwiseInit
    public struct Policy: Sendable, Hashable {
        /// What a pass may change.
        public enum Scope: String, Sendable, Hashable, CaseIterable {
            /// Everything: provisioning, reimaging, services, decommissioning.
            case all
            /// Only services on nodes whose agent answered (the paper's dynamic SW provisioning); no power,
            /// boot or image action.
            case services
        }

        /// Overrides the site's `rollout.canary`.
        public var canary: Bool?
        /// Overrides the site's `prune`.
        public var prune: Bool?
        public var scope: Scope = .all
        /// Racks an operator suspended (`StateStore.suspendedRacks()`): their nodes get no action at all, not
        /// even a decommission, until the rack is resumed.
        public var suspendedRacks: Set<String> = []
        /// Nodes whose agent refused the current site key's node key and holds (or may hold) the previous one's:
        /// each gets a `rekeyAgent` before its other actions (none when it is to be imaged: a new install brings
        /// the new key).
        public var rekey: Set<String> = []
    }

    public static func plan(desired: DesiredState, observed: ObservedState, policy: Policy = Policy()) -> Plan {
        let rollout = desired.site.rollout
        let canary = policy.canary ?? rollout.canary
        let prune = policy.prune ?? desired.site.prune
        let images = Dictionary(desired.images.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let services = Dictionary(desired.services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let racks = Dictionary(desired.racks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        var changes: [String: NodeChange] = [:]
        // Positions in `desired.nodes`, not nodes: a Node is large, and the waves below held three copies of every
        // node to image (10 MB at 10,000 nodes, a quarter of the dry run's heap).
        var imaging: [String: [Int]] = [:]  // by rack
        var serviceOnly: [Int] = []
        var leaving: [(name: String, rack: String)] = []
        var orphaned: [String] = []
        let desiredNames = Set(desired.nodes.map(\.name))

        // Sort positions, not nodes: a Node is large and copying 100k of them shows up in profiles.
        let order = desired.nodes.indices.sorted {
            let a = desired.nodes[$0]
            let b = desired.nodes[$1]
            return (a.rack.value, a.name) < (b.rack.value, b.name)
        }
        for position in order {
            let node = desired.nodes[position]
            if policy.suspendedRacks.contains(node.rack.value) { continue }
            let status = observed.nodes[node.name]
            if node.state == .absent {
                if policy.scope == .all, let status, status.phase != .decommissioned {
                    if prune { leaving.append((node.name, node.rack.value)) } else { orphaned.append(node.name) }
                }
                continue
            }
            guard let image = images[node.image.value] else { continue }
            if policy.scope == .services {
                if let status, Set(status.services) != Set(node.serviceNames) || !status.drifted.isEmpty {
                    changes[node.name] = .services
                    serviceOnly.append(position)
                }
                continue
            }
            let installed = status.flatMap { $0.phase == .ready ? $0.image : nil }
            if installed == nil {
                changes[node.name] = .provision
                imaging[node.rack.value, default: []].append(position)
            } else if installed != image.reference {
                changes[node.name] = .reimage
                imaging[node.rack.value, default: []].append(position)
            } else if let status, Set(status.services) != Set(node.serviceNames) || !status.drifted.isEmpty {
                changes[node.name] = .services
                serviceOnly.append(position)
            }
        }
        for (name, status) in observed.nodes.sorted(by: { $0.key < $1.key })
        where policy.scope == .all && !desiredNames.contains(name) && status.phase != .decommissioned
            && !policy.suspendedRacks.contains(status.rack ?? "") {
            if prune { leaving.append((name, status.rack ?? "-")) } else { orphaned.append(name) }
        }
        for item in leaving { changes[item.name] = .decommission }

        // Waves: per rack, first wave then chunks of maxUnavailable; then split by the global concurrency cap.
        var rackWaves: [[Int]] = []  // index = rack-local wave; nodes of all racks
        for rackName in imaging.keys.sorted() {
            let nodes = imaging[rackName] ?? []
            let rack = racks[rackName]
            let maxUnavailable = rack?.maxUnavailable ?? rollout.maxUnavailable
            let firstWave = min(rack?.firstWave ?? rollout.firstWave, maxUnavailable)
            var chunks: [[Int]] = [Array(nodes.prefix(firstWave))]
            var rest = nodes.dropFirst(firstWave)
            while !rest.isEmpty {
                chunks.append(Array(rest.prefix(maxUnavailable)))
                rest = rest.dropFirst(maxUnavailable)
            }
            for (index, chunk) in chunks.enumerated() where !chunk.isEmpty {
                if rackWaves.count <= index { rackWaves.append([]) }
                rackWaves[index] += chunk
            }
        }
        var waves: [[Int]] = []
        if canary, let first = rackWaves.first?.first {
            waves.append([first])
            rackWaves[0].removeFirst()
        }
        let cap = max(1, rollout.concurrency)
        for wave in rackWaves where !wave.isEmpty {
            var rest = wave[...]
            while !rest.isEmpty {
                waves.append(Array(rest.prefix(cap)))
                rest = rest.dropFirst(cap)
            }
        }

        var actions: [PlannedAction] = []
        // Sized once, at most what the steps below add: grown by doubling, the array of a large plan stood twice
        // in memory at its last growth.
        actions.reserveCapacity(waves.joined().reduce(0) { $0 + 6 + desired.nodes[$1].services.count }
            + serviceOnly.reduce(0) { count, position in
                count + 1 + desired.nodes[position].services.count
                    + (observed.nodes[desired.nodes[position].name]?.services.count ?? 0)
            } + leaving.count * 6)
        var details = SharedDetails()
        for (index, wave) in waves.enumerated() {
            for position in wave {
                let node = desired.nodes[position]
                guard let image = images[node.image.value] else { continue }
                actions += imagingActions(node, image: image, wave: index + 1, reimage: changes[node.name] == .reimage,
                                          services: services, desired: desired, details: &details)
            }
        }
        var nextWave = waves.count + 1
        var rest = serviceOnly[...]
        while !rest.isEmpty {
            for position in rest.prefix(cap) {
                let node = desired.nodes[position]
                actions += serviceActions(node, status: observed.nodes[node.name], wave: nextWave, services: services,
                                          details: &details)
            }
            rest = rest.dropFirst(cap)
            nextWave += 1
        }
        let erase = desired.site.decommission.erase
        for item in leaving {
            if erase != .none {
                actions += eraseActions(node: item.name, rack: item.rack, wave: nextWave, erase: erase)
            }
            actions.append(PlannedAction(node: item.name, rack: item.rack, wave: nextWave, kind: .powerOff,
                                         destructive: true, detail: "power off through the BMC"))
            actions.append(PlannedAction(node: item.name, rack: item.rack, wave: nextWave, kind: .removeBootEntry,
                                         destructive: false, detail: "remove PXE entry and DHCP reservation"))
        }
        var plan = Plan(actions: actions, changes: changes, orphaned: orphaned)
        if !policy.rekey.isEmpty { rekey(&plan, policy.rekey, desired: desired, policy: policy, wave: nextWave) }
        return plan
    }

    /// Puts a `rekeyAgent` first among each named present node's actions; a node with none gets it alone, in
    /// `wave`. Nodes on suspended racks and nodes to be provisioned or reimaged get none.
    static func rekey(_ plan: inout Plan, _ names: Set<String>, desired: DesiredState, policy: Policy, wave: Int) {
        for node in desired.nodes where names.contains(node.name) && node.state == .present {
            let change = plan.changes[node.name]
            guard !policy.suspendedRacks.contains(node.rack.value), change != .provision, change != .reimage,
                change != .decommission
            else { continue }
            let first = plan.actions.firstIndex { $0.node == node.name }
            let action = PlannedAction(
                node: node.name, rack: node.rack.value, wave: first.map { plan.actions[$0].wave } ?? wave,
                kind: .rekeyAgent, destructive: false,
                detail: "hand the agent its key from the new site key, signed with its key from the previous one")
            plan.actions.insert(action, at: first ?? plan.actions.endIndex)
            if change == nil { plan.changes[node.name] = .rekey }
        }
    }

    /// The steps that wipe a leaving node's disks before its power-off (`decommission.erase` quick or full).
    static func eraseActions(node: String, rack: String, wave: Int, erase: DecommissionSettings.Erase)
        -> [PlannedAction]
    {
        let how = erase == .full ? "overwrite every byte with zeros" : "zero the signatures, then discard"
        return [
            PlannedAction(node: node, rack: rack, wave: wave, kind: .writeEraseEntry, destructive: false,
                          detail: "entry -> install environment with rackswarm.erase=\(erase.rawValue)"),
            PlannedAction(node: node, rack: rack, wave: wave, kind: .setBootPXE, destructive: false,
                          detail: "next boot PXE"),
            PlannedAction(node: node, rack: rack, wave: wave, kind: .powerCycle, destructive: true,
                          detail: "power cycle into the install environment (the node goes down)"),
            PlannedAction(node: node, rack: rack, wave: wave, kind: .eraseDisks, destructive: true,
                          detail: "\(erase.rawValue) erase of the node's disk (\(how)); wait for its power-off"),
        ]
    }

    static func imagingActions(
        _ node: Node, image: Image, wave: Int, reimage: Bool, services: [String: Service], desired: DesiredState,
        details: inout SharedDetails
    ) -> [PlannedAction] {
        let rack = node.rack.value
        func action(_ kind: PlannedAction.Kind, _ destructive: Bool, _ detail: String, service: String? = nil)
            -> PlannedAction
        {
            details.about(service, PlannedAction(node: node.name, rack: rack, wave: wave, kind: kind,
                                                 destructive: destructive, detail: detail))
        }
        var actions = [
            action(.writeBootEntry, false, exactly(
                "\(node.bootLoader.rawValue) entry for \(node.mac.value) -> \(image.reference) install kernel")),
            action(.setBootPXE, false, details.text(.bootPXE(node.bmc.endpoint.value.scheme.rawValue)) {
                "next boot PXE via \(node.bmc.endpoint.value.scheme.rawValue)"
            }),
            action(.powerCycle, reimage, reimage ? "power cycle (node is running; it goes down)" : "power cycle"),
            action(.installImage, true, details.text(.installImage(image.reference, reimage: reimage)) {
                "\(reimage ? "reimage" : "write") \(image.reference) by BitTorrent"
                    + (image.postInstall.isEmpty ? "" : ", then \(image.postInstall.count) post-install actions")
            }),
            action(.bootLocal, false, desired.site.boot.afterInstall == .remove ? "remove PXE entry; boot from disk"
                   : "flip PXE entry to boot from disk"),
        ]
        for name in node.serviceNames {
            guard let service = services[name] else { continue }
            actions.append(action(.installService, false, details.text(.installService(name)) {
                installDetail(service)
            }, service: name))
        }
        if !node.services.isEmpty {
            actions.append(action(.verifyServices, false, verifyDetail(node.serviceNames, services, &details)))
        }
        return actions
    }

    static func serviceActions(_ node: Node, status: NodeStatus?, wave: Int, services: [String: Service],
                               details: inout SharedDetails) -> [PlannedAction]
    {
        let rack = node.rack.value
        func action(_ kind: PlannedAction.Kind, _ detail: String, service: String? = nil) -> PlannedAction {
            details.about(service, PlannedAction(node: node.name, rack: rack, wave: wave, kind: kind,
                                                 destructive: false, detail: detail))
        }
        let installed = Set(status?.services ?? [])
        let wanted = node.serviceNames
        var actions: [PlannedAction] = []
        for name in (status?.services ?? []).sorted() where !wanted.contains(name) {
            let order = services[name].map { $0.software.reversed().map(\.rpm).joined(separator: ", ") }
            actions.append(action(.uninstallService, "uninstall \(name)" + (order.map { " (reverse order: \($0))" } ?? ""),
                                  service: name))
        }
        let drifted = Set(status?.drifted ?? [])
        for name in wanted where !installed.contains(name) || drifted.contains(name) {
            guard let service = services[name] else { continue }
            let reason = installed.contains(name) ? " (drift: repair)" : ""
            let detail = details.text(.installService(name)) { installDetail(service) }
            actions.append(action(.installService, reason.isEmpty ? detail : detail + reason, service: name))
        }
        if !wanted.isEmpty {
            actions.append(action(.verifyServices, verifyDetail(wanted, services, &details)))
        }
        return actions
    }

    static func installDetail(_ service: Service) -> String {
        "install \(service.name): " + service.software.map { "\($0.order). \($0.rpm)" }.joined(separator: ", ")
    }

    /// `text` in storage of its own length: an interpolated string keeps the capacity it grew to (112 bytes for
    /// the 57 of a boot entry's detail), which the plan holds once per node.
    static func exactly(_ text: String) -> String {
        String(unsafeUninitializedCapacity: text.utf8.count) { buffer in
            buffer.initialize(fromContentsOf: text.utf8)
        }
    }

    static func verifyDetail(_ names: [String], _ services: [String: Service], _ details: inout SharedDetails)
        -> String
    {
        details.text(.verifyServices(names)) { "start scripts ran and processes alive: " + processes(names, services) }
    }

    static func processes(_ names: [String], _ services: [String: Service]) -> String {
        let list = names.compactMap { services[$0] }.flatMap { $0.software.compactMap(\.process) }
        return list.isEmpty ? "(none named)" : list.joined(separator: ", ")
    }
}

/// Action details many nodes share (a service's package list, a BMC protocol's PXE line, an image's install
/// line), built once per plan: each such text is one string on the heap, not one per action (a 10,000-node plan
/// has 70,000 actions).
struct SharedDetails {
    enum Key: Hashable {
        case bootPXE(String)
        case installImage(String, reimage: Bool)
        case installService(String)
        case verifyServices([String])
    }

    private var texts: [Key: String] = [:]
    /// By service: an action about it, whose box holding the name the next such action shares.
    private var aboutService: [String: PlannedAction] = [:]

    /// The text kept under `key`, made by `make` the first time.
    mutating func text(_ key: Key, _ make: () -> String) -> String {
        if let text = texts[key] { return text }
        let text = make()
        texts[key] = text
        return text
    }

    /// `action` (with no service or hold) about `service`, naming it in the box an earlier action about it holds.
    mutating func about(_ service: String?, _ action: PlannedAction) -> PlannedAction {
        guard let service else { return action }
        guard var shared = aboutService[service] else {
            var first = action
            first.service = service
            aboutService[service] = first
            return first
        }
        shared.node = action.node
        shared.rack = action.rack
        shared.wave = action.wave
        shared.kind = action.kind
        shared.destructive = action.destructive
        shared.detail = action.detail
        return shared
    }
}
