import Drivers
import Logging

/// Rewrites the boot entries of racks a reconciler took over (or of every rack it holds when the other members'
/// addresses changed) to name it and the live members as fallbacks, apart from its passes: a pass may be waiting
/// on a long install wave, and a node that boots meanwhile must read its rack's new holder.
public actor BootEntryRewriter {
    private var desired: DesiredState
    private let driver: any BootDriver
    private let logger: Logger

    public init(desired: DesiredState, driver: any BootDriver, logger: Logger) {
        self.desired = desired
        self.driver = driver
        self.logger = logger
    }

    /// Follows a newly loaded site.
    public func update(_ desired: DesiredState) { self.desired = desired }

    /// Rewrites `racks`' entries as `addressing` says; a failure is logged (the pass's plan writes the entries it
    /// needs anyway). Answers the nodes rewritten.
    @discardableResult
    public func rewrite(racks: Set<String>, addressing: BootAddressing) async -> [String] {
        guard !racks.isEmpty else { return [] }
        let boot = BootActionExecutor(driver: driver, desired: desired, addressing: addressing)
        do {
            let nodes = try await boot.rewrite(racks: racks)
            logger.info("boot entries rewritten to name this reconciler", metadata: [
                "racks": "\(racks.sorted().joined(separator: ","))", "nodes": "\(nodes.count)",
                "fallbacks": "\(addressing.fallbacks.joined(separator: ","))",
            ])
            return nodes
        } catch {
            logger.error("cannot rewrite the boot entries of racks taken over", metadata: [
                "racks": "\(racks.sorted().joined(separator: ","))", "error": "\(error)",
            ])
            return []
        }
    }
}
