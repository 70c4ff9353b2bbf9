import Drivers
import Foundation
import Logging

/// The executor's hands on real machines: power steps go to the node's BMC driver, boot steps to the boot
/// driver, the image install is watched through the install environment's reports, and service steps go to the
/// node's agent.
///
/// The install itself runs on the node (`provision-agent install`, started by the boot entry); this performer
/// waits for its reports in the state store. A wait that timed out is retried with a fresh network boot (PXE
/// next, power cycle); an install that is still reporting is never power-cycled (after a restart, the executor
/// resumes the wait).
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
    /// How often the install reports and the agent are polled.
    public var pollInterval: Duration = .seconds(1)
    private let retries = InstallRetries()
    private let services: ServiceReconciler

    public init(desired: DesiredState, store: any StateStore, boot: BootActionExecutor, power: @escaping PowerFactory,
                agents: @escaping ServiceReconciler.AgentFactory, refusedImages: [String: String] = [:],
                logger: Logger) {
        self.desired = desired
        self.store = store
        self.boot = boot
        self.power = power
        self.agents = agents
        self.refusedImages = refusedImages
        self.logger = logger
        self.services = ServiceReconciler(desired: desired, store: store, agents: agents, logger: logger)
    }

    public func perform(_ action: PlannedAction, on node: Node, image: Image?) async throws {
        switch action.kind {
        case .writeBootEntry:
            if let image, let why = refusedImages[image.reference] {
                throw ActionFailure("image \(image.reference): \(why)", intent: .stalled)
            }
            try await boot.perform(action, on: node, image: image)
        case .removeBootEntry:
            try await boot.perform(action, on: node, image: image)
        case .setBootPXE:
            try await powerCall(node) { try await $0.setBootDevice(.pxe, persistence: .once) }
        case .powerCycle:
            try await networkBoot(node)
        case .powerOff:
            try await powerCall(node) { try await $0.setPower(.off) }
        case .installImage:
            guard let image else { throw ActionFailure("node has no image in the repo", intent: .stalled) }
            // Reports count from the node's last power cycle on, so an old install's reports never do.
            let cycles = try await store.journal(node: node.name).filter { $0.action.kind == .powerCycle }
            var since = cycles.last?.startedAt ?? .distantPast
            if await retries.begin(node.name) {
                // The last wait for this node gave up: the install is dead. Boot it into the installer again.
                logger.info("install stopped or failed; network-booting the node again", metadata: [
                    "node.name": "\(node.name)",
                ])
                since = Date()
                try await powerCall(node) { try await $0.setBootDevice(.pxe, persistence: .once) }
                try await networkBoot(node)
            }
            try await waitForInstall(of: image, on: node, since: since)
            await retries.succeeded(node.name)
        case .bootLocal:
            try await boot.perform(action, on: node, image: image)
            try await waitForAgent(node)
        case .installService, .uninstallService, .verifyServices:
            if let failure = await services.perform(action, on: node, agent: agents(node)) {
                throw ActionFailure(failure, intent: .transient)
            }
        }
    }

    /// Powers the node on, or cycles it if it is on, so that it network-boots.
    private func networkBoot(_ node: Node) async throws {
        try await powerCall(node) { driver in
            switch try await driver.powerState() {
            case .off: try await driver.setPower(.on)
            case .on, .transitioning: try await driver.setPower(.cycle)
            }
        }
    }

    private func powerCall(_ node: Node, _ body: (any PowerDriver) async throws -> Void) async throws {
        do {
            let driver = try power(node)
            try await body(driver)
        } catch let error as PowerError {
            throw ActionFailure(error.description, intent: ErrorIntent(error.disposition))
        }
    }

    /// Waits until the node's install environment reports `rebooting` for `image` in a report not older than
    /// `since`.
    private func waitForInstall(of image: Image, on node: Node, since: Date) async throws {
        var lastPhase: InstallReport.Phase?
        while true {
            if let progress = try await store.installProgress(of: node.name), progress.updatedAt >= since,
                progress.report.image == image.reference
            {
                let report = progress.report
                if report.phase != lastPhase {
                    logger.info("install", metadata: [
                        "node.name": "\(node.name)", "phase": "\(report.phase.rawValue)",
                        "percent": "\(Int(report.percent))",
                    ])
                    lastPhase = report.phase
                }
                switch report.phase {
                case .rebooting: return
                case .failed:
                    throw ActionFailure("install environment: \(report.error ?? "failed")", intent: .transient)
                case .booted, .downloading, .written, .postInstalled: break
                }
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// Waits until the node's agent answers (the installed system is up).
    private func waitForAgent(_ node: Node) async throws {
        let agent = agents(node)
        while true {
            do {
                _ = try await agent.inventory(of: node.name)
                return
            } catch {
                logger.debug("agent not up yet", metadata: ["node.name": "\(node.name)", "error": "\(error)"])
            }
            try await Task.sleep(for: pollInterval)
        }
    }
}

extension ErrorIntent {
    init(_ disposition: PowerError.Disposition) {
        switch disposition {
        case .stalled: self = .stalled
        case .waiting(let retryAfter): self = .waiting(retryAfter: retryAfter)
        case .transient: self = .transient
        }
    }
}

/// Which nodes' install waits began and did not succeed: the next wait of such a node starts with a new
/// network boot.
private actor InstallRetries {
    private var waiting: Set<String> = []

    /// Notes a wait; true if the previous wait of this node did not succeed.
    func begin(_ node: String) -> Bool { !waiting.insert(node).inserted }

    func succeeded(_ node: String) { waiting.remove(node) }
}
