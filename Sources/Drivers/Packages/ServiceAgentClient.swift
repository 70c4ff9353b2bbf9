import Foundation
import Logging
import NIOCore
import NIOPosix

/// An agent's answer to one request, its signature checked.
public struct ServiceAnswer: Sendable, Hashable {
    /// The response's CODE.
    public var code: ResponseCode
    /// MESSAGE2: the human-readable detail (dnf's error text on `rpm-failed`).
    public var detail: String
    /// MESSAGE3 of install/uninstall/status/restart answers.
    public var report: ServiceReport?
    /// MESSAGE3 of inventory answers.
    public var inventory: NodeInventory?
    /// The whole response, without its signature field.
    public var message: ServiceMessage

    public init(message: ServiceMessage) {
        self.message = message
        self.code = message.code ?? .garbled
        self.detail = message.payload.first ?? ""
        let data = message.payload.count > 1 ? message.payload[1] : ""
        self.report = ServiceReport(jsonText: data)
        self.inventory = message.command == .inventory ? NodeInventory(jsonText: data) : nil
    }
}

/// Talks to node agents: the service manager's side of the paper's protocol.
public protocol ServiceAgentDriver: Sendable {
    /// Sends one request to the agent of `node`, with the service's software list when given.
    func request(
        _ command: ServiceCommand, node: String, service: String, definition: ServiceDefinition?
    ) async throws(ServiceAgentError) -> ServiceAnswer
}

extension ServiceAgentDriver {
    /// Installs a service in install order; `ok` means every RPM is in and every process alive.
    public func install(_ definition: ServiceDefinition, on node: String) async throws(ServiceAgentError)
        -> ServiceAnswer
    {
        try await request(.install, node: node, service: definition.name, definition: definition)
    }

    /// Stops a service and removes its RPMs in reverse install order.
    public func uninstall(_ definition: ServiceDefinition, on node: String) async throws(ServiceAgentError)
        -> ServiceAnswer
    {
        try await request(.uninstall, node: node, service: definition.name, definition: definition)
    }

    /// What of a service is installed and running: `ok`, `not-installed` or `process-not-running`.
    public func status(_ definition: ServiceDefinition, on node: String) async throws(ServiceAgentError)
        -> ServiceAnswer
    {
        try await request(.status, node: node, service: definition.name, definition: definition)
    }

    /// Every service, RPM and process the node's agent knows.
    public func inventory(of node: String) async throws(ServiceAgentError) -> ServiceAnswer {
        try await request(.inventory, node: node, service: "-", definition: nil)
    }
}

/// Sends signed requests to one agent over TCP and checks the signed answers.
///
/// Each request opens a connection, sends one frame and reads one frame. Answers `busy` and `unauthorized`
/// are thrown (waiting and stalled); every other code is returned for the caller to act on.
public struct ServiceAgentClient: ServiceAgentDriver {
    public let address: AgentAddress
    public let timeout: Duration
    let authenticator: MessageAuthenticator
    let logger: Logger
    let clock: @Sendable () -> Int64

    public init(
        address: AgentAddress, key: SiteKey, timeout: Duration = .seconds(900), logger: Logger,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.address = address
        self.timeout = timeout
        self.authenticator = MessageAuthenticator(key: key)
        self.logger = logger
        self.clock = clock
    }

    public func request(
        _ command: ServiceCommand, node: String, service: String, definition: ServiceDefinition?
    ) async throws(ServiceAgentError) -> ServiceAnswer {
        let payload = definition.map { [$0.jsonText()] } ?? []
        let request = ServiceMessage.request(command, node: node, service: service, payload: payload)
        return try await send(request)
    }

    /// The same client under another key (an agent's heartbeats after its key was rotated).
    public func with(key: SiteKey) -> ServiceAgentClient {
        ServiceAgentClient(address: address, key: key, timeout: timeout, logger: logger, clock: clock)
    }

    /// Hands the agent of `node` its next key, `next`, in a `rekey` signed with this client's key (the agent's
    /// current one); the key travels wrapped under the current key (`RekeyWrapping`). Throws unless the agent
    /// answers `ok`; an `ok` means the agent stored `next` and refuses this client's key from now on.
    public func rekey(node: String, to next: SiteKey) async throws(ServiceAgentError) {
        let nonce = MessageAuthenticator.freshNonce()
        guard let wrapped = RekeyWrapping.wrap(next, under: authenticator.key, node: node, nonce: nonce) else {
            throw ServiceAgentError(.badKey, "the next agent key of \(node) is not 64 hex digits")
        }
        let answer = try await send(.request(.rekey, node: node, service: "-", payload: [wrapped]), nonce: nonce)
        guard answer.code == .ok else {
            throw ServiceAgentError(.protocolViolation, "\(address) did not take the next key: "
                                    + "\(answer.code.rawValue): \(answer.detail)", intent: .stalled)
        }
    }

    /// Signs and sends one request; returns the verified answer.
    public func send(_ request: ServiceMessage) async throws(ServiceAgentError) -> ServiceAnswer {
        try await send(request, nonce: MessageAuthenticator.freshNonce())
    }

    private func send(_ request: ServiceMessage, nonce: String) async throws(ServiceAgentError) -> ServiceAnswer {
        let signed = authenticator.sign(request, timestamp: clock(), nonce: nonce)
        logger.info(
            "service request",
            metadata: ["agent.address": "\(address)", "request.command": "\(request.command)",
                       "node": "\(request.node)", "service.name": "\(request.service)"])
        let response = try await exchange(signed.encoded + [10])
        switch authenticator.verify(response) {
        case .success(let verified):
            guard verified.nonce == nonce else {
                throw ServiceAgentError(.protocolViolation, "\(address): answer does not echo our nonce")
            }
            let message = verified.message
            guard message.kind == .response, message.command == request.command, message.node == request.node,
                message.service == request.service
            else {
                throw ServiceAgentError(.protocolViolation, "\(address): answer does not match the request")
            }
            let answer = ServiceAnswer(message: message)
            switch answer.code {
            case .unauthorized:
                throw ServiceAgentError(.unauthorized, "\(address) refused the request: \(answer.detail)")
            case .busy:
                throw ServiceAgentError(.busy, "\(address): \(answer.detail)")
            case .garbled:
                throw ServiceAgentError(.protocolViolation, "\(address) could not parse the request: \(answer.detail)")
            default:
                return answer
            }
        case .failure:
            if response.code == .unauthorized {
                throw ServiceAgentError(
                    .unauthorized, "\(address) refused the request (wrong site key or clock skew?)")
            }
            throw ServiceAgentError(.unauthorized, "\(address): the answer's signature does not check")
        }
    }

    /// Writes one frame and reads one frame back, within the timeout.
    private func exchange(_ bytes: [UInt8]) async throws(ServiceAgentError) -> ServiceMessage {
        let address = address
        let timeout = timeout
        do {
            return try await withThrowingTaskGroup(of: ServiceMessage?.self) { group in
                group.addTask { try await Self.roundTrip(bytes, to: address) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let message = first else {
                    throw ServiceAgentError(.timedOut, "\(address): no answer within \(timeout)")
                }
                return message
            }
        } catch let error as ServiceAgentError {
            throw error
        } catch {
            throw ServiceAgentError(.unreachable, "\(address): \(error)")
        }
    }

    private static func roundTrip(_ bytes: [UInt8], to address: AgentAddress) async throws -> ServiceMessage {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            var parser = ServiceMessageParser()
            for try await buffer in inbound {
                parser.append(buffer.readableBytesView)
                switch parser.next() {
                case .needMoreData: continue
                case .message(let message): return message
                case .error(let error):
                    throw ServiceAgentError(.protocolViolation, "\(address): \(error)")
                }
            }
            throw ServiceAgentError(.unreachable, "\(address): connection closed before an answer")
        }
    }
}
