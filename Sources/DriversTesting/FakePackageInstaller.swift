import Drivers

/// An in-memory RPM database that records every call; for unit tests of code that installs packages.
public actor FakePackageInstaller: PackageInstaller {
    /// One call the fake received.
    public enum Call: Sendable, Hashable {
        case install(String)
        case remove(String)
    }

    /// Installed packages as `name-version-release.arch` specs.
    public private(set) var installed: [String] = []
    /// Every install and remove, in order.
    public private(set) var calls: [Call] = []
    /// Specs whose install fails, with the error text to report.
    private var failures: [String: String] = [:]

    public init(installed: [String] = []) {
        self.installed = installed
    }

    /// Makes installing `spec` fail with `detail`.
    public func failInstall(of spec: String, detail: String) {
        failures[spec] = detail
    }

    /// Simulates an operator running `rpm -e` by hand.
    public func removeBehindTheAgentsBack(_ spec: String) {
        installed.removeAll { $0 == spec }
    }

    public func installedPackage(named name: String) async -> String? {
        installed.first { Self.name(of: $0) == name }
    }

    public func isInstalled(spec: String) async -> Bool {
        installed.contains(spec)
    }

    public func install(spec: String, repositories: [RepositoryEntry]) async throws(PackageInstallError) {
        calls.append(.install(spec))
        if let detail = failures[spec] { throw PackageInstallError(package: spec, detail: detail) }
        installed.append(spec)
    }

    public func remove(name: String) async throws(PackageInstallError) {
        calls.append(.remove(name))
        guard installed.contains(where: { Self.name(of: $0) == name }) else {
            throw PackageInstallError(package: name, detail: "No match for argument: \(name)")
        }
        installed.removeAll { Self.name(of: $0) == name }
    }

    public func installedPackages() async -> [String] {
        installed.sorted()
    }

    private static func name(of spec: String) -> String {
        SoftwareEntry(name: spec, rpm: spec + ".rpm", order: 0).packageName
    }
}
