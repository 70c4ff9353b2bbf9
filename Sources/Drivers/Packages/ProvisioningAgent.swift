import Foundation
import Logging
import MemberwiseInit

/// The node side of the service protocol: checks each request's signature, then installs, removes, restarts or
/// reports services on its node.
///
/// Requests that change the node (install, uninstall, restart) run one at a time; another one arriving
/// meanwhile is answered `busy`. Status and inventory always read the live RPM database and process table, so
/// after a crash of dnf or of the reconciler's connection they tell the truth.
///
/// A failure at step k of an install does **not** roll back steps 1…k−1: each RPM is its own dnf transaction,
/// so the RPM database stays consistent, the answer's report lists what is installed, and a retry skips them.
public actor ProvisioningAgent {
    /// How the agent behaves.
    @PublicMemberwiseInit
    public struct Configuration: Sendable {
        /// This node's name; requests for another node get `wrong-node`.
        public var node: String
        /// Prefix for start-script paths and the process-table filter (tests run nodes side by side).
        public var installRoot: String?
        /// Where recorded service definitions and seen nonces are kept; nil keeps them in memory only.
        public var stateDirectory: String?
        /// Longest a start or stop script may run.
        public var scriptTimeout: Duration = .seconds(60)
        /// How long a process has to appear after its start script ran.
        public var processStartTimeout: Duration = .seconds(10)
        /// How long a process must stay alive after it appeared before `ok`.
        public var settleTime: Duration = .seconds(1)
        /// Accepted clock difference between the reconciler and the node.
        public var replayWindow: Duration = .seconds(300)
        /// The file the agent's key came from; a `rekey` replaces it. Nil: a rotated key lives in memory only.
        public var keyFile: String?
    }

    public let configuration: Configuration
    /// Checks requests and signs answers under the agent's one key: the one it started with, until a `rekey`.
    var authenticator: MessageAuthenticator
    let installer: any PackageInstaller
    let processes: any ProcessTable
    let runner: any CommandRunning
    let logger: Logger
    let clock: @Sendable () -> Int64

    private var replay: ReplayGuard
    private var definitions: [String: ServiceDefinition] = [:]
    private var running: (command: ServiceCommand, service: String)?

    public init(
        configuration: Configuration, key: SiteKey, installer: any PackageInstaller, processes: any ProcessTable,
        runner: any CommandRunning = ProcessCommandRunner(), logger: Logger,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.configuration = configuration
        self.authenticator = MessageAuthenticator(key: key)
        self.installer = installer
        self.processes = processes
        self.runner = runner
        self.logger = logger
        self.clock = clock
        let nonceFile = configuration.stateDirectory.map { "\($0)/nonces" }
        if let directory = configuration.stateDirectory {
            try? FileManager.default.createDirectory(
                atPath: "\(directory)/services", withIntermediateDirectories: true)
        }
        self.replay = ReplayGuard(window: configuration.replayWindow, file: nonceFile, now: clock())
        self.definitions = Self.loadDefinitions(configuration.stateDirectory)
    }

    // MARK: - Requests

    /// Answers one parsed frame (or parse error) with a signed response. Nothing runs unless the request is
    /// authentic, fresh, for this node and of a known command. The answer is signed with the key that checked the
    /// request, even when a `rekey` replaced it meanwhile.
    public func answer(_ event: Result<ServiceMessage, ServiceMessageError>) async -> ServiceMessage {
        let authenticator = authenticator
        let message: ServiceMessage
        switch event {
        case .failure(let error):
            logger.warning("garbled request", metadata: ["request.error": "\(error.code.rawValue)"])
            let unknown = ServiceMessage.request(ServiceCommand(rawValue: "unknown"), node: configuration.node,
                                                 service: "-")
            return sign(unknown.response(.garbled, payload: [error.description]), nonce: nil)
        case .success(let parsed):
            message = parsed
        }
        guard message.kind == .request else {
            return sign(message.response(.garbled, payload: ["not a request"]), nonce: nil)
        }
        let verified: MessageAuthenticator.Verified
        switch authenticator.verify(message) {
        case .failure(let failure):
            return refuse(message, failure)
        case .success(let value):
            verified = value
        }
        if let failure = replay.admit(timestamp: verified.timestamp, nonce: verified.nonce, now: clock()) {
            // The signature checked: echo its nonce, so the client reports this reason (a skewed clock, a replay)
            // rather than an answer that is not its own.
            return refuse(verified.message, failure, nonce: verified.nonce)
        }
        let request = verified.message
        let response = if request.command == .rekey && request.node == configuration.node {
            rekey(request, nonce: verified.nonce)
        } else {
            await dispatch(request)
        }
        return authenticator.sign(response, timestamp: clock(), nonce: verified.nonce)
    }

    /// A signed `unauthorized` answer naming `failure`, carrying the request's nonce when it has a well-formed one.
    private func refuse(
        _ message: ServiceMessage, _ failure: MessageAuthenticator.Failure, nonce known: String? = nil
    ) -> ServiceMessage {
        logger.warning(
            "unauthorized request",
            metadata: ["request.command": "\(message.command)", "request.reason": "\(failure.rawValue)"])
        var content = message
        var nonce = known
        if known == nil, let last = content.payload.last, last.hasPrefix(MessageAuthenticator.fieldPrefix) {
            content.payload.removeLast()
            let parts = last.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 4, parts[2].utf8.count == 32, unhex(parts[2]) != nil { nonce = String(parts[2]) }
        }
        return sign(content.response(.unauthorized, payload: [failure.rawValue]), nonce: nonce)
    }

    private func sign(_ response: ServiceMessage, nonce: String?) -> ServiceMessage {
        authenticator.sign(response, timestamp: clock(), nonce: nonce)
    }

    /// Runs an authenticated request.
    func dispatch(_ request: ServiceMessage) async -> ServiceMessage {
        guard request.node == configuration.node else {
            return request.response(.wrongNode, payload: ["this agent serves \(configuration.node)"])
        }
        guard request.command.isKnown, request.command != .heartbeat else {
            return request.response(.unknownCommand, payload: ["unknown command \(request.command)"])
        }
        if request.command == .inventory {
            let inventory = await inventory()
            return request.response(.ok, payload: ["\(inventory.services.count) services", inventory.jsonText()])
        }
        let supplied = request.payload.first.flatMap(ServiceDefinition.init(jsonText:))
        if let supplied, supplied.name != request.service {
            return request.response(.garbled, payload: ["definition is for \(supplied.name), not \(request.service)"])
        }
        guard let definition = supplied ?? definitions[request.service] else {
            return request.response(.unknownService, payload: ["no software list for \(request.service)"])
        }
        if request.command == .status {
            return await status(request, definition)
        }
        if let running {
            return request.response(.busy, payload: ["\(running.command) \(running.service) in progress"])
        }
        running = (request.command, request.service)
        defer { running = nil }
        var log = logger
        log[metadataKey: "service.name"] = "\(request.service)"
        log[metadataKey: "request.command"] = "\(request.command)"
        switch request.command {
        case .install: return await install(request, definition, log)
        case .uninstall: return await uninstall(request, definition, log)
        default: return await restart(request, definition, log)
        }
    }

    // MARK: - Commands

    private func install(_ request: ServiceMessage, _ definition: ServiceDefinition, _ log: Logger) async
        -> ServiceMessage
    {
        record(definition)
        let steps = definition.installOrder
        var installed = 0
        for (index, entry) in steps.enumerated() {
            if await installer.isInstalled(spec: entry.packageSpec) {
                log.info("rpm already installed", metadata: ["package.spec": "\(entry.packageSpec)"])
                continue
            }
            do {
                try await installer.install(spec: entry.packageSpec, repositories: definition.repositories)
                installed += 1
            } catch {
                let detail = "step \(index + 1)/\(steps.count): rpm \(entry.rpm) failed: \(error.detail)"
                return request.response(.rpmFailed, payload: [detail, await report(definition).jsonText()])
            }
        }
        if let failure = await startAndCheck(steps, log) {
            return request.response(failure.code, payload: [failure.detail, await report(definition).jsonText()])
        }
        let detail = "installed \(installed) of \(steps.count) rpms, \(steps.count - installed) already present"
        return request.response(.ok, payload: [detail, await report(definition).jsonText()])
    }

    private func uninstall(_ request: ServiceMessage, _ definition: ServiceDefinition, _ log: Logger) async
        -> ServiceMessage
    {
        let steps = Array(definition.installOrder.reversed())
        var warnings: [String] = []
        for entry in steps {
            if let failure = await stop(entry, log) { warnings.append(failure.detail) }
        }
        var removed = 0
        for (index, entry) in steps.enumerated() {
            guard await installer.installedPackage(named: entry.packageName) != nil else { continue }
            do {
                try await installer.remove(name: entry.packageName)
                removed += 1
            } catch {
                let detail = "step \(index + 1)/\(steps.count): removing \(entry.packageName) failed: \(error.detail)"
                return request.response(.rpmFailed, payload: [detail, await report(definition).jsonText()])
            }
        }
        forget(definition.name)
        var detail = "removed \(removed) of \(steps.count) rpms"
        if !warnings.isEmpty { detail += "; " + warnings.joined(separator: "; ") }
        return request.response(.ok, payload: [detail, await report(definition).jsonText()])
    }

    private func restart(_ request: ServiceMessage, _ definition: ServiceDefinition, _ log: Logger) async
        -> ServiceMessage
    {
        let steps = definition.installOrder
        for entry in steps.reversed() { _ = await stop(entry, log) }
        if let failure = await startAndCheck(steps, log) {
            return request.response(failure.code, payload: [failure.detail, await report(definition).jsonText()])
        }
        return request.response(.ok, payload: ["restarted", await report(definition).jsonText()])
    }

    private func status(_ request: ServiceMessage, _ definition: ServiceDefinition) async -> ServiceMessage {
        let report = await report(definition)
        let missing = report.software.filter { $0.installed == nil }.map(\.rpm)
        let dead = report.software.filter { $0.installed != nil && $0.process != nil && $0.pids.isEmpty }
        if !missing.isEmpty {
            return request.response(.notInstalled, payload: ["not installed: \(missing.joined(separator: ", "))",
                                                            report.jsonText()])
        }
        if !dead.isEmpty {
            let names = dead.compactMap(\.process).joined(separator: ", ")
            return request.response(.processNotRunning, payload: ["not running: \(names)", report.jsonText()])
        }
        return request.response(.ok, payload: ["installed and running", report.jsonText()])
    }

    // MARK: - Scripts and processes

    private struct StepFailure {
        var code: ResponseCode
        var detail: String
    }

    /// Runs each start script (unless its process already runs), then checks every named process stays up.
    private func startAndCheck(_ steps: [SoftwareEntry], _ log: Logger) async -> StepFailure? {
        for (index, entry) in steps.enumerated() {
            guard let script = entry.script else { continue }
            if let process = entry.process, !(await processes.pids(named: process).isEmpty) {
                log.info("process already running", metadata: ["process.name": "\(process)"])
                continue
            }
            let result = await runScript(script, "start")
            guard result.succeeded else {
                let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
                return StepFailure(
                    code: .scriptFailed,
                    detail: "step \(index + 1)/\(steps.count): script \(script) start \(result.summary): \(output)")
            }
        }
        let named = steps.compactMap(\.process)
        for process in named {
            let deadline = ContinuousClock.now + configuration.processStartTimeout
            while await processes.pids(named: process).isEmpty {
                guard ContinuousClock.now < deadline else {
                    return StepFailure(code: .processNotRunning, detail: "process \(process) did not start")
                }
                try? await Task.sleep(for: .milliseconds(25))
            }
        }
        if !named.isEmpty { try? await Task.sleep(for: configuration.settleTime) }
        for process in named where await processes.pids(named: process).isEmpty {
            return StepFailure(code: .processNotRunning, detail: "process \(process) exited after it started")
        }
        return nil
    }

    /// Runs the stop script (when there is one), then stops whatever of the process is left.
    private func stop(_ entry: SoftwareEntry, _ log: Logger) async -> StepFailure? {
        var failure: StepFailure?
        if let script = entry.script {
            let result = await runScript(script, "stop")
            if !result.succeeded {
                failure = StepFailure(code: .scriptFailed, detail: "script \(script) stop \(result.summary)")
            }
        }
        if let process = entry.process {
            let stopped = await processes.stop(named: process, grace: .seconds(5))
            if !stopped.isEmpty {
                log.info(
                    "stopped process",
                    metadata: ["process.name": "\(process)", "process.count": "\(stopped.count)"])
            }
        }
        return failure
    }

    private func runScript(_ script: String, _ verb: String) async -> CommandResult {
        var environment: [String: String] = [:]
        if let root = configuration.installRoot { environment["RACKSWARM_ROOT"] = root }
        guard let path = Self.hostPath(script, installRoot: configuration.installRoot) else {
            return CommandResult(status: 126, output: "script path '\(script)' is not absolute or has a '..' "
                + "component: it could leave the install root")
        }
        return await runner.run(path, [verb], environment: environment, timeout: configuration.scriptTimeout)
    }

    // MARK: - Reports

    /// The live state of a service: RPMs from the database, processes from the process table.
    public func report(_ definition: ServiceDefinition) async -> ServiceReport {
        var states: [SoftwareState] = []
        for entry in definition.installOrder {
            let installed = await installer.installedPackage(named: entry.packageName)
            let pids = if let process = entry.process { await processes.pids(named: process) } else { [Int32]() }
            states.append(SoftwareState(name: entry.name, rpm: entry.rpm, installed: installed,
                                        process: entry.process, pids: pids))
        }
        return ServiceReport(service: definition.name, software: states)
    }

    /// Every recorded service, every installed RPM.
    public func inventory() async -> NodeInventory {
        var reports: [ServiceReport] = []
        for name in definitions.keys.sorted() {
            if let definition = definitions[name] { reports.append(await report(definition)) }
        }
        return NodeInventory(node: configuration.node, services: reports, packages: await installer.installedPackages(),
                             takenAt: clock())
    }

    // MARK: - Recorded definitions

    private func record(_ definition: ServiceDefinition) {
        definitions[definition.name] = definition
        guard let directory = configuration.stateDirectory else { return }
        let path = "\(directory)/services/\(Self.fileName(definition.name)).json"
        do {
            try definition.jsonText().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            logger.error("cannot record service", metadata: ["service.name": "\(definition.name)"])
        }
    }

    private func forget(_ name: String) {
        definitions[name] = nil
        guard let directory = configuration.stateDirectory else { return }
        try? FileManager.default.removeItem(atPath: "\(directory)/services/\(Self.fileName(name)).json")
    }

    private static func loadDefinitions(_ directory: String?) -> [String: ServiceDefinition] {
        guard let directory,
            let files = try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/services")
        else { return [:] }
        var out: [String: ServiceDefinition] = [:]
        for file in files where file.hasSuffix(".json") {
            guard let text = try? String(contentsOfFile: "\(directory)/services/\(file)", encoding: .utf8),
                let definition = ServiceDefinition(jsonText: text)
            else { continue }
            out[definition.name] = definition
        }
        return out
    }

    /// A file name for a service: hex of its UTF-8, so any name is safe.
    private static func fileName(_ name: String) -> String { hex(Array(name.utf8)) }
}
