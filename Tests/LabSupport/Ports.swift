import Foundation
import Synchronization

/// A free port on 127.0.0.1 for a server a test starts later. Never the same port twice in one process (per
/// type): two servers that both set SO_REUSEADDR (as `ipmi_sim` does) would share one UDP port, so that one lab's
/// reconciler powers another lab's node.
///
/// The port comes from below the kernel's ephemeral range (`ip_local_port_range`, 32768–60999 here), which the
/// kernel hands to every outgoing connection and every bind of port 0 on the machine: a port read from a bind of
/// port 0 is free only until the next connection takes it, and a loaded test run lost a seeder's listen so.
public func freePort(udp: Bool = false) throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: portRange)
        guard handedOut.withLock({ !$0.contains(udp ? -port : port) }), canBind(port, udp: udp) else { continue }
        if handedOut.withLock({ $0.insert(udp ? -port : port).inserted }) { return port }
    }
    throw LabError("no free port in \(portRange) that this process has not handed out already")
}

/// Below the ephemeral range, above the well-known services' ports.
private let portRange = 20_000...32_767

/// Ports `freePort` returned in this process (UDP ones negated).
private let handedOut = Mutex<Set<Int>>([])

/// Whether a socket of the given type can bind 127.0.0.1:port now (closed again at once).
private func canBind(_ port: Int, udp: Bool) -> Bool {
    let descriptor = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
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
