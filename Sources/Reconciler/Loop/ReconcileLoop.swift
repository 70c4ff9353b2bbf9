import Logging
import ReconcilerMetrics
import ServiceLifecycle

/// Keeps the site converged: one pass at start, then one every `interval` — or sooner when an operator asks for
/// one (`passRequested`) — until a graceful shutdown.
///
/// A pass that is running when SIGTERM or SIGINT arrives finishes (its steps are journaled and the store is
/// written in transactions) and the loop then returns, so the process exits 0. A failing pass is logged and the
/// next tick tries again; the loop itself never dies of it. Each pass fetches the repo again, so a new commit is
/// picked up at the next pass; waves already running finish on the commit they started with.
public struct ReconcileLoop: ServiceLifecycle.Service {
    public let interval: Duration
    public let logger: Logger
    /// How often the loop checks for a pass request and a shutdown while it waits.
    public var pollInterval: Duration = .seconds(1)
    let passRequested: @Sendable () async -> Bool
    let pass: @Sendable () async throws -> Void

    public init(interval: Duration, logger: Logger, passRequested: @escaping @Sendable () async -> Bool = { false },
                pass: @escaping @Sendable () async throws -> Void) {
        self.interval = interval
        self.logger = logger
        self.passRequested = passRequested
        self.pass = pass
    }

    public func run() async throws {
        let clock = ContinuousClock()
        var number = 0
        while !Task.isShuttingDownGracefully {
            number += 1
            let started = clock.now
            await runPass(number: number)
            // Wait for the next tick, a pass request or a shutdown, whichever comes first.
            while !Task.isShuttingDownGracefully, clock.now - started < interval {
                if await passRequested() {
                    logger.info("pass requested by an operator")
                    break
                }
                try? await Task.sleep(for: min(pollInterval, interval - (clock.now - started)))
            }
        }
        logger.info("reconcile loop stopped")
    }

    private func runPass(number: Int) async {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await pass()
            logger.info("pass finished", metadata: [
                "pass.number": "\(number)", "pass.seconds": "\((clock.now - start).wholeSeconds)",
            ])
        } catch {
            logger.warning("pass failed", metadata: [
                "pass.number": "\(number)", "error.code": "passFailed", "error": "\(error)",
            ])
        }
        let elapsed = (clock.now - start).components
        ReconcilerMetrics.passFinished(seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
    }
}
