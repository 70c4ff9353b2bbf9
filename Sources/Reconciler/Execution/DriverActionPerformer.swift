import Drivers
import Foundation
import Logging

/// The executor's hands on real machines: power steps go to the node's BMC driver, boot steps to the boot
/// driver, the image install is watched through the install environment's reports, and service steps go to the
/// node's agent.
///
/// The install itself runs on the node (`provision-agent install`, started by the boot entry); this performer
/// looks at its reports in the state store and answers `requeue(after:)` while it runs, so the executor, not the
/// performer, does the waiting (within the site's install timeout). A later attempt (after a failure or a
/// timeout) starts with a fresh network boot (PXE next, power cycle); the first attempt never power-cycles, so an
/// install found running after a restart is waited on, not restarted.
public struct DriverActionPerformer: ActionPerformer {
    /// Makes the power driver for a node's BMC, or throws a `PowerError` (unknown scheme, unreadable password).
    public typealias PowerFactory = @Sendable (Node) throws -> any PowerDriver

    public let desired: DesiredState
    public let store: any StateStore
    public let boot: BootActionExecutor
    public let power: PowerFactory
    public let agents: ServiceReconciler.AgentFactory
    /// Images that cannot be installed (file missing, SHA-256 not the repo's), by `name@version`, with why. Nodes
    /// of such an image stall at their first step, before anything on them is touched.
    public let refusedImages: [String: String]
    public let logger: Logger
    /// How often the install reports and the agent are looked at while a step is under way.
    public var pollInterval: Duration = .seconds(1)
    private let waits = InstallWaits()
    private let services: ServiceReconciler

    public init(desired: DesiredState, store: any StateStore, boot: BootActionExecutor, power: @escaping PowerFactory,
                agents: @escaping ServiceReconciler.AgentFactory,
                rotation: @escaping ServiceReconciler.RotationFactory = { _ in nil },
                refusedImages: [String: String] = [:], logger: Logger) {
        self.desired = desired
        self.store = store
        self.boot = boot
        self.power = power
        self.agents = agents
        self.refusedImages = refusedImages
        self.logger = logger
        self.services = ServiceReconciler(desired: desired, store: store, agents: agents, rotation: rotation,
                                          logger: logger)
    }

    public func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt) async throws
        -> StepResult
    {
        switch action.kind {
        case .writeBootEntry:
            if let image, let why = refusedImages[image.reference] {
                throw ActionFailure("image \(image.reference): \(why)", intent: .stalled)
            }
            return try await boot.perform(action, on: node, image: image, attempt: attempt)
        case .removeBootEntry, .writeEraseEntry:
            return try await boot.perform(action, on: node, image: image, attempt: attempt)
        case .eraseDisks:
            return try await checkErase(on: node, attempt: attempt)
        case .setBootPXE:
            try await power(node).setBootDevice(.pxe, persistence: .once)
        case .powerCycle:
            try await networkBoot(node)
            await waits.noteCycled(node.name)
        case .powerOff:
            try await power(node).setPower(.off)
        case .installImage:
            guard let image else { throw ActionFailure("node has no image in the repo", intent: .stalled) }
            return try await checkInstall(of: image, on: node, attempt: attempt)
        case .bootLocal:
            if attempt.isFresh { _ = try await boot.perform(action, on: node, image: image, attempt: attempt) }
            return try await checkAgent(node)
        case .installService, .uninstallService, .verifyServices, .rekeyAgent:
            try await services.perform(action, on: node, agent: agents(node))
        }
        return .done
    }

    /// Powers the node on, or cycles it if it is on, so that it network-boots.
    private func networkBoot(_ node: Node) async throws {
        let driver = try power(node)
        switch try await driver.powerState() {
        case .off: try await driver.setPower(.on)
        case .on, .transitioning: try await driver.setPower(.cycle)
        }
    }

    /// Looks at a leaving node's erase: done once the node is off (the install environment powers it off when its
    /// disk is wiped; a failed erase keeps it on, with a shell on its console). After a power cycle made by this
    /// performer, "off" counts only once the node was seen on since: a BMC's power cycle leaves the node off for a
    /// moment, before the erase has even started. A fresh attempt after the first network-boots it into the erase
    /// entry again; the first never does, so an erase found running (or done) after a restart is waited on.
    private func checkErase(on node: Node, attempt: StepAttempt) async throws -> StepResult {
        let driver = try power(node)
        if attempt.isFresh {
            await waits.begin(node.name, since: Date())
            if attempt.number > 1 {
                logger.info("erase stopped or failed; network-booting the node again", metadata: [
                    "node": "\(node.name)",
                ])
                try await driver.setBootDevice(.pxe, persistence: .once)
                try await networkBoot(node)
                await waits.noteCycled(node.name)
                return .requeue(after: pollInterval)
            }
        }
        switch try await driver.powerState() {
        case .off:
            if await waits.wasCycled(node.name), await !waits.wasSeenOn(node.name) {
                return .requeue(after: pollInterval)
            }
            await waits.forgetCycle(node.name)
            logger.info("erased: the node powered itself off", metadata: ["node": "\(node.name)"])
            return .done
        case .on, .transitioning:
            await waits.noteOn(node.name)
            return .requeue(after: pollInterval)
        }
    }

    /// Looks at the node's install: done once its install environment reports `rebooting` for `image` in a report
    /// not older than the wait's start; requeued while it runs. A fresh attempt after the first boots the node into
    /// the installer again (the last one stopped or failed).
    private func checkInstall(of image: Image, on node: Node, attempt: StepAttempt) async throws -> StepResult {
        var since: Date
        if attempt.isFresh {
            // Reports count from the node's last power cycle on, so an old install's reports never do.
            let cycles = try await store.journal(node: node.name).filter { $0.action.kind == .powerCycle }
            since = cycles.last?.startedAt ?? .distantPast
            if attempt.number > 1 {
                // The last attempt's install may have finished as its time ran out: it is not done again.
                let previous = await waits.since(node.name) ?? since
                if let progress = try await store.installProgress(of: node.name), progress.updatedAt >= previous,
                    progress.report.image == image.reference, progress.report.phase == .rebooting
                {
                    logger.info("install finished as its wait timed out", metadata: ["node": "\(node.name)"])
                    return .done
                }
                logger.info("install stopped or failed; network-booting the node again", metadata: [
                    "node": "\(node.name)",
                ])
                since = Date()
                try await power(node).setBootDevice(.pxe, persistence: .once)
                try await networkBoot(node)
            }
            await waits.begin(node.name, since: since)
        } else {
            since = await waits.since(node.name) ?? .distantPast
        }
        guard let progress = try await store.installProgress(of: node.name), progress.updatedAt >= since,
            progress.report.image == image.reference
        else { return .requeue(after: pollInterval) }
        let report = progress.report
        if await waits.note(report.phase, for: node.name) {
            logger.info("install", metadata: [
                "node": "\(node.name)", "phase": "\(report.phase.rawValue)", "percent": "\(Int(report.percent))",
            ])
        }
        switch report.phase {
        case .rebooting: return .done
        case .failed:
            // A failure the install environment knows will repeat (a disk smaller than the image) needs a human.
            throw ActionFailure("install environment: \(report.error ?? "failed")",
                                intent: report.stalled == true ? .stalled : .transient)
        case .booted, .downloading, .written, .postInstalled: return .requeue(after: pollInterval)
        }
    }

    /// Done once the node's agent answers (the installed system is up); requeued while it does not. An agent that
    /// refuses us (a wrong site key) stalls the node: waiting will not fix it.
    private func checkAgent(_ node: Node) async throws -> StepResult {
        do {
            _ = try await agents(node).inventory(of: node.name)
            return .done
        } catch where error.intent == .stalled {
            throw error
        } catch {
            logger.debug("agent not up yet", metadata: ["node": "\(node.name)", "error": "\(error)"])
            return .requeue(after: pollInterval)
        }
    }
}

/// Where each node's install or erase wait started, the last phase logged, whether this performer power-cycled
/// the node, and whether it was seen powered on since, across the requeues of one attempt.
private actor InstallWaits {
    private var started: [String: Date] = [:]
    private var phases: [String: InstallReport.Phase] = [:]
    private var seenOn: Set<String> = []
    private var cycled: Set<String> = []

    func begin(_ node: String, since: Date) {
        started[node] = since
        phases[node] = nil
        seenOn.remove(node)
    }

    func noteOn(_ node: String) { seenOn.insert(node) }

    /// This performer power-cycled the node (into an install or an erase).
    func noteCycled(_ node: String) { cycled.insert(node) }

    func wasCycled(_ node: String) -> Bool { cycled.contains(node) }

    func forgetCycle(_ node: String) { cycled.remove(node) }

    func wasSeenOn(_ node: String) -> Bool { seenOn.contains(node) }

    func since(_ node: String) -> Date? { started[node] }

    /// Notes the phase seen; true if it changed (worth a log line).
    func note(_ phase: InstallReport.Phase, for node: String) -> Bool {
        defer { phases[node] = phase }
        return phases[node] != phase
    }
}
