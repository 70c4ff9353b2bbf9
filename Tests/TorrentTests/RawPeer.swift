import Foundation
import NIOCore

@testable import Torrent

/// A hand-driven peer over a blocking socket, for hostile-input tests.
final class RawPeer: @unchecked Sendable {
    let fd: Int32
    private var parser = PeerWireParser()
    private var buffer = ByteBuffer()

    /// Connects to `127.0.0.1:port` from `source` (any 127.0.0.0/8 address: many "hosts" on one machine).
    init(port: Int, from source: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let bound = Self.call(bind, fd, host: source, port: 0)
        guard bound == 0 else {
            close(fd)
            throw TorrentError(.listen, "bind \(source) errno \(errno)")
        }
        let result = Self.call(connect, fd, host: "127.0.0.1", port: port)
        guard result == 0 else {
            close(fd)
            throw TorrentError(.listen, "connect errno \(errno)")
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Calls `bind` or `connect` on `fd` with `host:port` as an IPv4 socket address.
    private static func call(_ function: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32, _ fd: Int32,
                             host: String, port: Int) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                function(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Sends `bytes`; false once the other side has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } >= 0
    }

    func send(_ message: PeerMessage) {
        var buffer = ByteBuffer()
        message.write(into: &buffer)
        send(Array(buffer.readableBytesView))
    }

    func handshake(infoHash: [UInt8], peerID: [UInt8] = Array("-XX0000-hostile00000".utf8)) {
        var buffer = ByteBuffer()
        Handshake(infoHash: infoHash, peerID: peerID).write(into: &buffer)
        send(Array(buffer.readableBytesView))
    }

    /// True once the other side closes (or resets) the connection, draining any data; false if it stays open for
    /// `patience` seconds. A receive timeout alone is not an answer: on a loaded machine the close can take longer.
    func waitForClose() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(Self.patience)
        while Date() < deadline {
            let got = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got == 0 { return true }
            if got < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                return errno == ECONNRESET
            }
        }
        return false
    }

    /// Whether the other side answered our handshake with its own (false: it closed the connection, or said
    /// nothing for `patience` seconds).
    func handshakeAnswered() -> Bool { readUntil { if case .handshake = $0 { true } else { false } } }

    /// Whether the connection is still open, without waiting: reads what has arrived (the parser is bypassed, so
    /// only ask after the last `readUntil`) and answers false once the other side has closed or reset it.
    func isOpen() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if got > 0 { continue }
            if got == 0 { return false }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK
        }
    }

    /// Reads and parses events until `predicate` matches one (true), the connection closes, or `patience` seconds
    /// pass without a match (false). The socket's 5 s receive timeout only wakes the loop to look at the clock: on a
    /// loaded machine the seed can take longer than that to answer, and that is no answer.
    func readUntil(_ predicate: (PeerWireParser.Result) -> Bool) -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(Self.patience)
        while true {
            while let result = try? parser.parse(&buffer), result != .needMoreData {
                if predicate(result) { return true }
            }
            let got = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR, Date() < deadline { continue }
            guard got > 0 else { return false }
            buffer.writeBytes(scratch[0..<got])
        }
    }

    /// How long a read waits for an answer or a close.
    static let patience: TimeInterval = 30
}
