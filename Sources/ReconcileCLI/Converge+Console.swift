import ArgumentParser
import BootServer
import Console
import Drivers
import Foundation
import Logging
import Reconciler
import ReconcilerPostgres
import ServiceLifecycle

extension Convergence {
    /// The console, its JSON API and `/metrics` on their own listener (`--console-listen`, HTTPS with
    /// `--console-tls-cert`/`--console-tls-key`), and the `PassFollower` that keeps it on the site of the latest
    /// pass and tells it why a commit may drive nothing; nil without a listen address. A certificate or key that
    /// cannot be read stops the command with the file named.
    func managementListener(store: any StateStore, desired: DesiredState, checkout: SiteSource.Checkout,
                            resources: PowerDriverResources) throws
        -> (app: any ServiceLifecycle.Service, follower: any PassFollower)?
    {
        let logger = self.logger
        guard let host = consoleListen?.host, let port = consoleListen?.port else {
            logger.info("the console, its JSON API and /metrics are not served: no --console-listen")
            return nil
        }
        let current = CurrentSite(RepoConsoleSource.site(checkout: checkout, desired: desired))
        let console = Console(
            source: ClosureConsoleSource(
                store: store, site: { await current.site },
                power: { name in await Self.powerState(of: name, in: current, resources: resources, logger: logger) },
                holders: { try await (store as? PostgresStateStore)?.rackHolders() },
                servers: { try await (store as? PostgresStateStore)?.rackServers() }),
            tokens: tokens, prefix: "/console", metrics: .shared, logger: logger)
        var listener = ManagementListener(host: host, port: port, tls: consoleTLS, logger: logger)
        listener.routes.append { console.addRoutes(to: $0) }
        if tokens != nil && consoleTLS == nil && !["127.0.0.1", "::1", "localhost"].contains(host) {
            logger.warning("operator tokens cross plain HTTP: give --console-tls-cert and --console-tls-key",
                           metadata: ["listen": "\(host):\(port)"])
        }
        let scheme = listener.scheme
        let app: any ServiceLifecycle.Service
        do {
            app = try listener.application { bound in
                logger.info("serving the console, its JSON API and /metrics", metadata: [
                    "console": "\(scheme)://\(host):\(bound)/console",
                    "metrics": "\(scheme)://\(host):\(bound)/metrics",
                ])
            }
        } catch {
            Terminal.standardError.write("error: --console-listen: \(error)\n")
            throw ExitCode.failure
        }
        return (app, current)
    }
}
