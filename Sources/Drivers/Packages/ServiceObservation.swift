/// What a `status` answer means for the reconciler's observed state of one service on one node.
public enum ServiceObservation: Sendable, Hashable {
    /// Every RPM installed and every process alive: the service counts as installed and verified.
    case running
    /// Partly there: a process died or an RPM was removed by hand. The next plan reinstalls (install is
    /// idempotent: only the missing RPMs are installed and only the dead processes restarted).
    case drifted(String)
    /// Nothing of the service is installed.
    case absent
    /// The agent could not say (unreachable, busy, refused); keep the last observation.
    case unknown(String)

    /// Classifies a `status` answer.
    public init(status answer: ServiceAnswer) {
        switch answer.code {
        case .ok:
            self = .running
        case .notInstalled where answer.report?.isAbsent ?? false:
            self = .absent
        case .notInstalled, .processNotRunning:
            self = .drifted(answer.detail)
        default:
            self = .unknown("\(answer.code.rawValue): \(answer.detail)")
        }
    }
}

extension ServiceAgentDriver {
    /// Asks `node`'s agent for the status of each service; one observation per service name.
    public func observe(_ services: [ServiceDefinition], on node: String) async -> [String: ServiceObservation] {
        var out: [String: ServiceObservation] = [:]
        for service in services {
            do {
                out[service.name] = ServiceObservation(status: try await status(service, on: node))
            } catch {
                out[service.name] = .unknown(error.description)
            }
        }
        return out
    }
}
