import Foundation

/// A TCP relay on a free loopback port to `host:port` that a test can stall (a hung peer: connections stay open,
/// nothing passes) or cut (every connection closed, nothing listening), while the server behind it stays up
/// (scripts/lab/tcp-proxy.py).
public final class TCPProxy: @unchecked Sendable {
    public let port: Int
    private let process: LabProcess

    public init(to host: String, port target: Int) async throws {
        port = try freePort()
        let script = packageRoot + "/scripts/lab/tcp-proxy.py"
        let log = NSTemporaryDirectory() + "rs-proxy-\(getpid())-\(UUID().uuidString.prefix(8)).log"
        process = try LabProcess("/usr/bin/python3", [script, "\(port)", host, "\(target)"], outputFile: log)
        for _ in 0..<200 where !process.output.contains("ready") {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard process.output.contains("ready") else {
            process.signal()
            throw LabError("tcp-proxy.py did not start: \(process.output)")
        }
    }

    /// Stops relaying both ways; connections stay open, so only a deadline notices.
    public func stall() { process.signal(SIGUSR1) }

    /// Closes every connection and stops listening.
    public func cut() { process.signal(SIGUSR2) }

    /// Ends the relay.
    public func stop() {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: process.outputFile)
    }

    deinit { stop() }
}
