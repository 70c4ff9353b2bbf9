import Drivers
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// Stopping the agent's server while connections are arriving: connections the listener has accepted but not yet
/// handed to a task must be closed, not dropped (NIO traps on an async channel dropped unfinished, which took the
/// whole test process down under load), and `run` must return promptly.
struct AgentServerStopTests {
    @Test(.timeLimit(.minutes(2)), arguments: 0..<5)
    func cancellingWhileConnectionsArriveClosesThemAndReturns(round: Int) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = ServiceAgentServer(
            address: AgentAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test.stop")
        ) { _ in ServiceMessage.request(.inventory, node: "n1", service: "-").response(.ok) }
        let serving = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        // A burst of connections that send nothing: some are being served, some wait in the accept queue.
        let clients = try await withThrowingTaskGroup(of: (any Channel).self) { group in
            for _ in 0..<64 {
                group.addTask {
                    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connect(host: "127.0.0.1", port: port).get()
                }
            }
            var channels: [any Channel] = []
            for try await channel in group { channels.append(channel) }
            return channels
        }
        defer { for client in clients { client.close(promise: nil) } }
        serving.cancel()

        let started = ContinuousClock.now
        try await serving.value
        // Well under the 60 s idle timeout: the server closed its connections rather than waiting them out.
        #expect(ContinuousClock.now - started < .seconds(20))
        for client in clients {
            try await client.closeFuture.get()
        }
    }
}
