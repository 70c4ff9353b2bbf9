extension ObservedState {
    /// The state a fully successful execution of `plan` would leave: what the planner must then find in sync.
    public func applying(_ plan: Plan, desired: DesiredState) -> ObservedState {
        var next = self
        let nodes = Dictionary(desired.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let images = Dictionary(desired.images.map { ($0.name, $0.reference) }, uniquingKeysWith: { first, _ in first })
        for (name, change) in plan.changes {
            switch change {
            case .provision, .reimage, .services:
                guard let node = nodes[name] else { continue }
                next.nodes[name] = NodeStatus(phase: .ready, image: images[node.image.value],
                                              services: node.serviceNames, drifted: [], rack: node.rack.value)
            case .decommission:
                next.nodes[name]?.phase = .decommissioned
            case .rekey:
                continue  // The key is no part of the observed state.
            }
        }
        return next
    }
}
