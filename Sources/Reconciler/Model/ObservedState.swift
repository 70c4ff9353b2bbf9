import MemberwiseInit

/// What rackswarm last saw of each node: the observed half of the model, apart from the desired `Node`.
@PublicMemberwiseInit
public struct ObservedState: Sendable, Hashable, Codable {
    public var nodes: [String: NodeStatus] = [:]
}

/// The observed status of one node.
@PublicMemberwiseInit
public struct NodeStatus: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
        /// Never seen, or never provisioned by rackswarm.
        case unknown
        case provisioning
        case ready
        case failed
        case decommissioned
    }

    public var phase: Phase
    /// `name@version` of the image on disk, once installed.
    public var image: String?
    /// Services installed and verified, by name.
    public var services: [String] = []
    /// Services whose process is not running or whose RPMs are gone (drift the agent reported).
    public var drifted: [String] = []
    public var rack: String?
}
