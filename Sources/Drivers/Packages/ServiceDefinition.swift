import Foundation
import MemberwiseInit

/// One row of the paper's software DB (its Figure 5): an RPM with its install order, start script and process.
@PublicMemberwiseInit
public struct SoftwareEntry: Sendable, Hashable, Codable {
    /// The software name, e.g. `cs#1`.
    public var name: String
    /// The RPM file name, e.g. `std_cs-1.0-1.i386.rpm`.
    public var rpm: String
    /// Install order: lower first; uninstall goes the other way.
    public var order: Int
    /// Start script, e.g. `/etc/init.d/cs`, called with `start` and `stop`; nil when there is none.
    public var script: String?
    /// The process that must be alive after the script ran, e.g. `mediaServer`; nil when there is none.
    public var process: String?

    /// The package spec dnf and rpm take: the file name without `.rpm` (`std_cs-1.0-1.i386`).
    public var packageSpec: String {
        rpm.hasSuffix(".rpm") ? String(rpm.dropLast(4)) : rpm
    }

    /// The package name alone (`std_cs`): the spec without its `-version-release.arch` tail, when it has one.
    public var packageName: String {
        let parts = packageSpec.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, rpm.hasSuffix(".rpm") || packageSpec.contains(".") else { return packageSpec }
        return parts.dropLast(2).joined(separator: "-")
    }
}

/// A yum/dnf repository holding a service's RPMs.
@PublicMemberwiseInit
public struct RepositoryEntry: Sendable, Hashable, Codable {
    /// Repository id, e.g. `site`; letters, digits, `-`, `_` and `.`.
    public var name: String
    /// Base URL, e.g. `http://10.0.0.1/repo` or `file:///srv/repo`.
    public var baseurl: String
}

/// A service as the agent needs it: its software list and where the RPMs come from.
///
/// The reconciler sends it with each `install`, `uninstall`, `status` or `restart` request, as compact JSON in
/// MESSAGE2 (see `docs/service-protocol.md`); the agent records the last one it installed.
@PublicMemberwiseInit
public struct ServiceDefinition: Sendable, Hashable, Codable {
    public var name: String
    public var software: [SoftwareEntry]
    public var repositories: [RepositoryEntry] = []

    /// Software in install order (stable for equal orders).
    public var installOrder: [SoftwareEntry] {
        software.enumerated().sorted { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }
            .map(\.element)
    }

    /// The definition as one line of JSON with sorted keys, the MESSAGE2 of a request.
    public func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses MESSAGE2 JSON; nil when it is not a definition.
    public init?(jsonText: String) {
        guard let value = try? JSONDecoder().decode(ServiceDefinition.self, from: Data(jsonText.utf8)) else {
            return nil
        }
        self = value
    }
}

/// What the agent found for one software entry.
@PublicMemberwiseInit
public struct SoftwareState: Sendable, Hashable, Codable {
    public var name: String
    public var rpm: String
    /// The installed package (`name-version-release.arch`), nil when it is not installed.
    public var installed: String?
    public var process: String?
    /// PIDs of the live processes with that name; empty when none (or no process is named).
    public var pids: [Int32]

    /// True when the RPM is installed and its process (if any) is alive.
    public var isHealthy: Bool { installed != nil && (process == nil || !pids.isEmpty) }
}

/// A service's observed state on a node: the `status` answer, carried as JSON in a response's MESSAGE3.
@PublicMemberwiseInit
public struct ServiceReport: Sendable, Hashable, Codable {
    public var service: String
    /// One entry per software, in install order.
    public var software: [SoftwareState]

    /// Every RPM installed and every process alive.
    public var isHealthy: Bool { software.allSatisfy(\.isHealthy) }
    /// True when nothing of the service is installed.
    public var isAbsent: Bool { software.allSatisfy { $0.installed == nil } }

    public func jsonText() -> String { Self.encode(self) }

    public init?(jsonText: String) {
        guard let value = try? JSONDecoder().decode(ServiceReport.self, from: Data(jsonText.utf8)) else {
            return nil
        }
        self = value
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Everything an agent knows about its node: the `inventory` and `heartbeat` payload.
@PublicMemberwiseInit
public struct NodeInventory: Sendable, Hashable, Codable {
    public var node: String
    /// Reports of every service the agent has a definition for.
    public var services: [ServiceReport]
    /// Every installed RPM (`name-version-release.arch`), sorted.
    public var packages: [String]
    /// Seconds since the epoch when the inventory was taken.
    public var takenAt: Int64

    public func jsonText() -> String { ServiceReport.encode(self) }

    public init?(jsonText: String) {
        guard let value = try? JSONDecoder().decode(NodeInventory.self, from: Data(jsonText.utf8)) else {
            return nil
        }
        self = value
    }
}
