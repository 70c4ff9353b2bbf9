import Drivers

/// A pretend fleet of node agents: records every request and keeps which services each node has.
public actor FakeServiceAgent: ServiceAgentDriver {
    /// One request the fake received.
    public struct Call: Sendable, Hashable {
        public var command: ServiceCommand
        public var node: String
        public var service: String
    }

    /// Every request, in order.
    public private(set) var calls: [Call] = []
    /// Services installed per node.
    public private(set) var installed: [String: Set<String>] = [:]
    private var errors: [String: ServiceAgentError] = [:]
    private var codes: [String: ResponseCode] = [:]

    public init() {}

    /// Makes every request to `node` throw `error` (e.g. `.unreachable`).
    public func fail(node: String, with error: ServiceAgentError) {
        errors[node] = error
    }

    /// Makes the next requests to `node` answer `code` (e.g. `.rpmFailed`), changing nothing.
    public func answer(node: String, with code: ResponseCode) {
        codes[node] = code
    }

    public func request(
        _ command: ServiceCommand, node: String, service: String, definition: ServiceDefinition?
    ) async throws(ServiceAgentError) -> ServiceAnswer {
        calls.append(Call(command: command, node: node, service: service))
        if let error = errors[node] { throw error }
        let request = ServiceMessage.request(command, node: node, service: service)
        if let code = codes[node] { return ServiceAnswer(message: request.response(code, payload: ["scripted"])) }
        let code: ResponseCode
        switch command {
        case .install:
            installed[node, default: []].insert(service)
            code = .ok
        case .uninstall:
            installed[node, default: []].remove(service)
            code = .ok
        case .status:
            code = installed[node, default: []].contains(service) ? .ok : .notInstalled
        default:
            code = .ok
        }
        var payload = ["fake"]
        if let definition {
            let present = installed[node, default: []].contains(service)
            let states = definition.installOrder.map {
                SoftwareState(
                    name: $0.name, rpm: $0.rpm, installed: present ? $0.packageSpec : nil, process: $0.process,
                    pids: present && $0.process != nil ? [4242] : [])
            }
            payload.append(ServiceReport(service: service, software: states).jsonText())
        }
        return ServiceAnswer(message: request.response(code, payload: payload))
    }
}
