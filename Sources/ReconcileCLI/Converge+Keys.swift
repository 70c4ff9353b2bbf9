import ArgumentParser
import Drivers
import Logging
import Reconciler

/// The site key and, during a rotation, the previous one, as each pass reads them.
extension Convergence {
    /// The site key as `agent.keyFile` holds it now (a rotation may have replaced it since start-up); the start-up
    /// key when the file cannot be read.
    static func currentKey(_ site: Site, startUp: SiteKey, logger: Logger) -> SiteKey {
        do {
            return try SiteKey(contentsOfFile: site.agent.keyFile)
        } catch {
            logger.warning("site key unreadable; the key read at start-up signs this pass's agent requests",
                           metadata: ["error": "\(error)"])
            return startUp
        }
    }

    /// Site key rotation: per node, a client under its key from `agent.previousKeyFile` and its key from the
    /// current site key. None without a previous key file, or with one that cannot be read (logged).
    static func rotation(_ site: Site, startUp: SiteKey, logger: Logger) -> ServiceReconciler.RotationFactory {
        guard let path = site.agent.previousKeyFile else { return { _ in nil } }
        let previous: SiteKey
        do {
            previous = try SiteKey(contentsOfFile: path)
        } catch {
            logger.error("previous site key unreadable: agents still holding it cannot be rekeyed",
                         metadata: ["error": "\(error)"])
            return { _ in nil }
        }
        let current = currentKey(site, startUp: startUp, logger: logger)
        return { node in
            let address = AgentAddress(host: node.ip.value.description, port: site.agent.port)
            return AgentKeyRotation(
                client: ServiceAgentClient(address: address, key: previous.agentKey(forNode: node.name),
                                           timeout: site.timeouts.services, logger: logger),
                next: current.agentKey(forNode: node.name))
        }
    }

    /// The site's agent key; an unreadable one is an error on standard error and exit 1.
    static func siteKey(_ site: Site) throws -> SiteKey {
        do {
            return try SiteKey(contentsOfFile: site.agent.keyFile)
        } catch {
            Terminal.standardError.write("error: site key \(site.agent.keyFile): \(error.description)\n")
            throw ExitCode.failure
        }
    }
}
