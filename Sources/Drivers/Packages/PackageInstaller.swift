import Foundation
import Logging
import MemberwiseInit

/// An RPM failed to install or be removed; `detail` carries the package manager's own error text.
@PublicMemberwiseInit
public struct PackageInstallError: Error, Sendable, Hashable, CustomStringConvertible {
    public var package: String
    public var detail: String

    public var description: String { "\(package): \(detail)" }
}

/// Installs and removes RPMs on one node, one package per transaction.
public protocol PackageInstaller: Sendable {
    /// The installed package (`name-version-release.arch`) called `name`, or nil.
    func installedPackage(named name: String) async -> String?
    /// True when exactly this package spec (`std_cs-1.0-1.noarch`) is installed.
    func isInstalled(spec: String) async -> Bool
    /// Installs one package from the given repositories (the node's own when empty).
    func install(spec: String, repositories: [RepositoryEntry]) async throws(PackageInstallError)
    /// Removes one package by name.
    func remove(name: String) async throws(PackageInstallError)
    /// Every installed package, sorted.
    func installedPackages() async -> [String]
}

/// yum or dnf plus rpm, optionally into an install root, as the agent runs them.
public struct DNFInstaller: PackageInstaller {
    /// How the installer runs.
    @PublicMemberwiseInit
    public struct Configuration: Sendable {
        /// `dnf` or `yum` (a path, or a name searched in PATH).
        public var packageManager: String
        /// `rpm` (a path, or a name searched in PATH).
        public var rpm: String = "rpm"
        /// `--installroot` for dnf and `--root` for rpm; nil for the live system.
        public var installRoot: String?
        /// `--releasever`, needed when the install root has no release package.
        public var releaseVersion: String?
        /// Passes `--nogpgcheck` (unsigned test repositories).
        public var skipGPGCheck: Bool = false
        /// Extra environment for dnf and rpm (e.g. HOME holding an `.rpmmacros`).
        public var environment: [String: String] = [:]
        /// Longest one dnf transaction may take.
        public var timeout: Duration = .seconds(600)
    }

    public let configuration: Configuration
    let runner: any CommandRunning
    let logger: Logger

    public init(configuration: Configuration, runner: any CommandRunning = ProcessCommandRunner(), logger: Logger) {
        self.configuration = configuration
        self.runner = runner
        self.logger = logger
    }

    /// The first of `dnf`, `yum` found in PATH (the node has one or the other), or nil.
    public static func locatePackageManager(
        path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    ) -> String? {
        for name in ["dnf", "yum"] {
            if let found = which(name, path: path) { return found }
        }
        return nil
    }

    /// `name` if it is a path, else its first executable match in PATH.
    public static func which(
        _ name: String, path: String = ProcessInfo.processInfo.environment["PATH"] ?? ""
    ) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public func installedPackage(named name: String) async -> String? {
        let result = await rpmQuery(["-q", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n", "--", name])
        guard result.succeeded else { return nil }
        return result.output.split(separator: "\n").first.map(String.init)
    }

    public func isInstalled(spec: String) async -> Bool {
        await rpmQuery(["-q", "--", spec]).succeeded
    }

    public func installedPackages() async -> [String] {
        let result = await rpmQuery(["-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"])
        guard result.succeeded else { return [] }
        return result.output.split(separator: "\n").map(String.init).sorted()
    }

    public func install(spec: String, repositories: [RepositoryEntry]) async throws(PackageInstallError) {
        // `--` ends dnf's options: a spec from a definition is only ever a package, even one starting with '-'.
        try await transaction(verb: "install", ["install", "--", spec], package: spec, repositories: repositories)
    }

    public func remove(name: String) async throws(PackageInstallError) {
        try await transaction(
            verb: "remove", ["--setopt=clean_requirements_on_remove=False", "remove", "--", name], package: name,
            repositories: [])
    }

    /// dnf arguments shared by every transaction.
    func commonArguments(repositories: [RepositoryEntry]) -> [String] {
        var arguments = ["-y"]
        if let root = configuration.installRoot { arguments.append("--installroot=\(root)") }
        if let release = configuration.releaseVersion { arguments.append("--releasever=\(release)") }
        if configuration.skipGPGCheck { arguments.append("--nogpgcheck") }
        if !repositories.isEmpty {
            arguments.append("--setopt=reposdir=/dev/null")
            for repository in repositories {
                arguments.append("--repofrompath=\(repository.name),\(repository.baseurl)")
            }
            arguments.append("--repo=\(repositories.map(\.name).joined(separator: ","))")
            arguments.append("--refresh")
        }
        return arguments
    }

    private func transaction(
        verb: String, _ command: [String], package: String, repositories: [RepositoryEntry]
    ) async throws(PackageInstallError) {
        guard let executable = Self.which(configuration.packageManager) else {
            throw PackageInstallError(package: package, detail: "\(configuration.packageManager) not found")
        }
        let arguments = commonArguments(repositories: repositories) + command
        logger.info(
            "package transaction",
            metadata: ["package.spec": "\(package)", "package.verb": "\(verb)"])
        let result = await runner.run(
            executable, arguments, environment: configuration.environment, timeout: configuration.timeout)
        guard result.succeeded else {
            let text = Self.errorText(result.output)
            logger.warning(
                "package transaction failed",
                metadata: ["package.spec": "\(package)", "package.result": "\(result.summary)"])
            throw PackageInstallError(package: package, detail: "\(result.summary): \(text)")
        }
    }

    private func rpmQuery(_ query: [String]) async -> CommandResult {
        guard let executable = Self.which(configuration.rpm) else {
            return CommandResult(status: 127, output: "\(configuration.rpm) not found")
        }
        var arguments: [String] = []
        if let root = configuration.installRoot { arguments += ["--root", root] }
        return await runner.run(
            executable, arguments + query, environment: configuration.environment, timeout: .seconds(60))
    }

    /// dnf's own reason, without its progress chatter: error and problem lines when there are some.
    static func errorText(_ output: String) -> String {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let keep = lines.filter {
            $0.hasPrefix("Error") || $0.hasPrefix("Problem") || $0.hasPrefix("- ") || $0.hasPrefix("No match")
                || $0.contains("nothing provides") || $0.contains("error:") || $0.contains("conflicts")
        }
        let chosen = keep.isEmpty ? Array(lines.suffix(5)) : keep
        return chosen.joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }
}
