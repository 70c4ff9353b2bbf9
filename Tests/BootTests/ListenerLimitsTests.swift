import BootServer
import Foundation
import LabSupport
import Testing

/// The real `reconcile boot serve`, at a 1,024-descriptor limit, against 1,100 half-sent requests on raw sockets:
/// a node on another loopback address still gets its boot file, and the half requests are closed.
struct ListenerLimitsTests {
    /// A TCP socket to 127.0.0.1:`port` from `source`, with send/receive timeouts; nil when it cannot connect.
    static func connect(port: Int, from source: String, timeout: Int = 2) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Everything the peer sends until it closes or the receive timeout passes.
    static func receive(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { return result }
            result += buffer[..<got]
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func halfSentRequestsDoNotStarveARealClient() async throws {
        let reconcile = try #require(builtBinaries.map { $0 + "/reconcile" }, "reconcile is not built")
        let directory = try TemporaryDirectory()
        try directory.writeBootSite()
        try directory.write("http/boot/vmlinuz", Data("kernel bytes".utf8))
        let port = try freePort()
        let server = try LabProcess(
            "/bin/sh", ["-c", "ulimit -n 1024 && exec \"$0\" \"$@\"", reconcile, "boot", "serve", "--repo",
                        directory.path + "/site", "--listen", "127.0.0.1", "--port", "\(port)", "--no-tracker"],
            outputFile: directory.path + "/server.log")
        defer {
            server.signal()
            _ = Task { await server.wait(timeout: 5) }
        }
        var attackers: [Int32] = []
        defer { for fd in attackers { close(fd) } }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !((try? directory.read("server.log")) ?? "").contains("listening on") {
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? directory.read("server.log")) ?? ""
        #expect(log.contains("listening on"), "\(log)")

        // 1,100 half-sent requests from one address (refused or not, each costs the attacker one socket).
        for _ in 0..<1100 {
            guard let fd = Self.connect(port: port, from: "127.0.0.1", timeout: 1) else { continue }
            attackers.append(fd)
            _ = Self.send(fd, "GET /boot/vmlinuz HTTP/1.1\r\nHost: lab\r\nX-Slow: ")
        }

        // A node from another address gets its file at once.
        let started = ContinuousClock.now
        let node = try #require(Self.connect(port: port, from: "127.0.0.2", timeout: 5))
        defer { close(node) }
        #expect(Self.send(node, "GET /boot/vmlinuz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"))
        let answer = String(decoding: Self.receive(node), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(200))")
        #expect(answer.hasSuffix("kernel bytes"))
        #expect(ContinuousClock.now - started < .seconds(5))

        // The half requests the server did accept are closed by the header timeout (10 s), not held forever.
        let accepted = try #require(attackers.first)
        var limit = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let waited = ContinuousClock.now
        var byte: UInt8 = 0
        let got = recv(accepted, &byte, 1, 0)
        #expect(got == 0 || (got < 0 && errno == ECONNRESET), "the half request was not closed: recv \(got)")
        #expect(ContinuousClock.now - waited < .seconds(15))
    }
}
