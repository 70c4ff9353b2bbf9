import Foundation
import Synchronization

/// A free port: bind port 0 with the given socket type, read the port, close. Never the same port twice in one
/// process (per type): the kernel may hand a closed port out again, and two servers that both set SO_REUSEADDR (as
/// `ipmi_sim` does) then share one UDP port, so that one lab's reconciler powers another lab's node.
public func freePort(udp: Bool = false) throws -> Int {
    for _ in 0..<100 {
        let port = try boundPort(udp: udp)
        if handedOut.withLock({ $0.insert(udp ? -port : port).inserted }) { return port }
    }
    throw LabError("no port that this process has not handed out already")
}

/// Ports `freePort` returned in this process (UDP ones negated).
private let handedOut = Mutex<Set<Int>>([])

/// Binds port 0 on 127.0.0.1 with the given socket type and answers the port the kernel chose.
private func boundPort(udp: Bool) throws -> Int {
    let descriptor = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw LabError("socket: errno \(errno)") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
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
