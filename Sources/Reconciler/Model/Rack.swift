import RackswarmCore

/// A rack: a group of nodes that share a switch, installed in waves.
public struct Rack: Sendable, Hashable {
    public var name: String
    public var location: SourceLocation
    public var labels: [String: String]
    /// Overrides of the site's rollout settings for this rack.
    public var firstWave: Int?
    public var maxUnavailable: Int?
    /// BMC credentials the rack's nodes use unless they name their own.
    public var bmcUsername: String?
    public var bmcPassword: SecretReference?
    /// Maintenance windows for this rack's nodes, in place of the site's; nil keeps the site's.
    public var windows: MaintenanceWindows?

    public init(
        name: String, location: SourceLocation, labels: [String: String] = [:], firstWave: Int? = nil,
        maxUnavailable: Int? = nil, bmcUsername: String? = nil, bmcPassword: SecretReference? = nil
    ) {
        self.name = name
        self.location = location
        self.labels = labels
        self.firstWave = firstWave
        self.maxUnavailable = maxUnavailable
        self.bmcUsername = bmcUsername
        self.bmcPassword = bmcPassword
    }
}
