import MemberwiseInit

/// A service: software packages installed in order, each maybe with a start script and a process to watch.
///
/// This is the paper's software DB (its Figure 5): service → software name, RPM, install order, script, process.
public struct Service: Sendable, Hashable {
    public var name: String
    public var location: SourceLocation
    public var description: String?
    public var repositories: [PackageRepository]
    /// Sorted by install order.
    public var software: [Software]

    public init(name: String, location: SourceLocation, description: String?, repositories: [PackageRepository],
                software: [Software]) {
        self.name = name
        self.location = location
        self.description = description
        self.repositories = repositories
        self.software = software.sorted { $0.order < $1.order }
    }
}

/// One row of the software DB.
@PublicMemberwiseInit
public struct Software: Sendable, Hashable, Codable {
    /// The software name, e.g. `cs#1`.
    public var name: String
    /// The RPM, e.g. `std_cs-1.0-1.i386.rpm`.
    public var rpm: String
    public var order: Int
    /// Start script, e.g. `/etc/init.d/cs`; nil when the package has none.
    public var script: String?
    /// Process that must be alive once the script ran, e.g. `mediaServer`; nil when there is none.
    public var process: String?
    public var location: SourceLocation
}

/// A yum/dnf repository holding a service's RPMs.
@PublicMemberwiseInit
public struct PackageRepository: Sendable, Hashable, Codable {
    public var name: String
    public var baseURL: String
}
