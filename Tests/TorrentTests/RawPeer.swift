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

    /// Reads until the peer closes (true) or the 5 s timeout passes (false); drains any data.
    /// True once the other side closes (or resets) the connection; false if it stays open for 30 s. A receive
    /// timeout alone is not an answer: on a loaded machine the close can take longer than one.
    func waitForClose() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(30)
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
    /// nothing for the 5 s receive timeout).
    func handshakeAnswered() -> Bool { readUntil { if case .handshake = $0 { true } else { false } } }

    /// Reads and parses events until `predicate` matches one, the connection closes, or the timeout passes.
    func readUntil(_ predicate: (PeerWireParser.Result) -> Bool) -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        while true {
            while let result = try? parser.parse(&buffer), result != .needMoreData {
                if predicate(result) { return true }
            }
            let got = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { return false }
            buffer.writeBytes(scratch[0..<got])
        }
    }
}
