import AsyncAlgorithms
import Logging
import ServiceLifecycle

/// Keeps the site converged: one pass at start, then one every `interval`, until a graceful shutdown.
///
/// A pass that is running when SIGTERM or SIGINT arrives finishes (its steps are journaled and the store is
/// written in transactions) and the loop then returns, so the process exits 0. A failing pass is logged and the
/// next tick tries again; the loop itself never dies of it. Each pass fetches the repo again, so a new commit is
/// picked up at the next pass; waves already running finish on the commit they started with.
public struct ReconcileLoop: ServiceLifecycle.Service {
    public let interval: Duration
    public let logger: Logger
    let pass: @Sendable () async throws -> Void

    public init(interval: Duration, logger: Logger, pass: @escaping @Sendable () async throws -> Void) {
        self.interval = interval
        self.logger = logger
        self.pass = pass
    }

    public func run() async throws {
        await runPass(number: 1)
        var number = 1
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            number += 1
            await runPass(number: number)
            if Task.isShuttingDownGracefully { break }
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
            logger.info("pass failed", metadata: ["pass.number": "\(number)", "error": "\(error)"])
        }
    }
}
