import Foundation
import Synchronization

/// A free port for a server a test starts later (often another program): one below the kernel's ephemeral range
/// that binds now, else (none found) one the kernel picks for port 0. Never the same port twice in one process (per
/// type): the kernel may hand a closed port out again, and two servers that both set SO_REUSEADDR (as `ipmi_sim`
/// does) then share one UDP port, so that one lab's reconciler powers another lab's node. Below the ephemeral range,
/// because the kernel hands those ports to every `connect` and every bind to port 0 meanwhile (a hostile test binds
/// hundreds), and one of them could take the port before the server binds it.
public func freePort(udp: Bool = false) throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: 20_000..<32_768)
        guard (try? boundPort(udp: udp, port: port)) == port else { continue }
        if handedOut.withLock({ $0.insert(udp ? -port : port).inserted }) { return port }
    }
    for _ in 0..<100 {
        let port = try boundPort(udp: udp, port: 0)
        if handedOut.withLock({ $0.insert(udp ? -port : port).inserted }) { return port }
    }
    throw LabError("no port that this process has not handed out already")
}

/// Ports `freePort` returned in this process (UDP ones negated).
private let handedOut = Mutex<Set<Int>>([])

/// Binds `port` (0: any) on 127.0.0.1 with the given socket type and answers the port bound.
private func boundPort(udp: Bool, port: Int) throws -> Int {
    let descriptor = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw LabError("socket: errno \(errno)") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw LabError("bind: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True when /proc/net/udp lists a socket bound to 127.0.0.1:port (read to EOF: /proc files report size 0).
public func udpPortIsBound(_ port: Int) -> Bool {
    guard let handle = FileHandle(forReadingAtPath: "/proc/net/udp") else { return false }
    defer { try? handle.close() }
    let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    return table.contains(String(format: "0100007F:%04X", port))
}

/// True when something accepts TCP connections on 127.0.0.1:port.
public func tcpPortAccepts(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            connect(fd, raw, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
