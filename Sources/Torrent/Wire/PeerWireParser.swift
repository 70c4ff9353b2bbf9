import NIOCore
import RackswarmCore

/// A peer that broke the wire protocol; the connection must be closed. The detail gives the message id or length.
public typealias PeerWireError = CodedError<PeerWireErrorCode>

/// What the peer did wrong.
public enum PeerWireErrorCode: String, ErrorCode {
    case badProtocolName = "not a BitTorrent handshake"
    case oversizedMessage = "message longer than allowed"
    case malformedMessage = "message with a wrong length for its type"

    /// The connection is closed; the session dials other peers.
    public var intent: ErrorIntent { .transient }

    public static func describe(_ code: Self, detail: String) -> String { "peer wire: \(code.rawValue) \(detail)" }
}

/// A pure, incremental parser of the peer wire protocol: one handshake, then length-prefixed messages.
///
/// `parse` consumes bytes from the buffer only when a whole frame is there, so it can be fed any split.
public struct PeerWireParser: Sendable {
    /// Where in the connection the parser is.
    public enum State: Sendable, Equatable {
        case awaitingHandshake
        case awaitingMessage
    }

    /// One parse step's outcome.
    public enum Result: Sendable, Equatable {
        case needMoreData
        case handshake(Handshake)
        case message(PeerMessage)
    }

    /// The current state.
    public private(set) var state: State
    /// The longest message (length prefix value) accepted.
    public var maxMessageLength: Int

    /// Creates a parser; `maxMessageLength` must cover a bitfield and a block.
    public init(expectHandshake: Bool = true, maxMessageLength: Int = (128 << 10) + 13) {
        self.state = expectHandshake ? .awaitingHandshake : .awaitingMessage
        self.maxMessageLength = maxMessageLength
    }

    /// Parses at most one frame from `buffer`.
    public mutating func parse(_ buffer: inout ByteBuffer) throws(PeerWireError) -> Result {
        switch state {
        case .awaitingHandshake:
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
            guard Int(first) == Handshake.protocolName.count else {
                throw PeerWireError(.badProtocolName, "length byte \(first)")
            }
            // Reject a wrong protocol name as soon as the bytes that differ are in.
            let present = min(buffer.readableBytes - 1, Handshake.protocolName.count)
            if present > 0, let name = buffer.getBytes(at: buffer.readerIndex + 1, length: present),
                name != Array(Handshake.protocolName[0..<present])
            {
                throw PeerWireError(.badProtocolName)
            }
            guard buffer.readableBytes >= Handshake.size else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 20)
            let reserved = buffer.readBytes(length: 8) ?? []
            let infoHash = buffer.readBytes(length: 20) ?? []
            let peerID = buffer.readBytes(length: 20) ?? []
            state = .awaitingMessage
            return .handshake(Handshake(reserved: reserved, infoHash: infoHash, peerID: peerID))
        case .awaitingMessage:
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
            guard length <= UInt32(maxMessageLength) else {
                throw PeerWireError(.oversizedMessage, "\(length) bytes")
            }
            guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
            if length == 0 {
                buffer.moveReaderIndex(forwardBy: 4)
                return .message(.keepAlive)
            }
            // Validate before consuming, so a bad frame leaves the buffer untouched.
            var frame = buffer.getSlice(at: buffer.readerIndex + 4, length: Int(length)) ?? ByteBuffer()
            let message = try Self.decodeBody(&frame)
            buffer.moveReaderIndex(forwardBy: 4 + Int(length))
            return .message(message)
        }
    }

    private static func decodeBody(_ frame: inout ByteBuffer) throws(PeerWireError) -> PeerMessage {
        let length = frame.readableBytes
        guard let id = frame.readInteger(as: UInt8.self) else {
            throw PeerWireError(.malformedMessage, "empty")
        }
        func expect(_ size: Int) throws(PeerWireError) {
            guard length == size else {
                throw PeerWireError(.malformedMessage, "id \(id) length \(length)")
            }
        }
        func readRequest(_ frame: inout ByteBuffer) -> BlockRequest {
            let piece = frame.readInteger(as: UInt32.self) ?? 0
            let begin = frame.readInteger(as: UInt32.self) ?? 0
            let size = frame.readInteger(as: UInt32.self) ?? 0
            return BlockRequest(piece: piece, begin: begin, length: size)
        }
        guard let known = PeerMessage.ID(rawValue: id) else {
            return .unknown(id: id, payload: frame)
        }
        if let size = known.fixedLength { try expect(size) }
        switch known {
        case .choke: return .choke
        case .unchoke: return .unchoke
        case .interested: return .interested
        case .notInterested: return .notInterested
        case .haveAll: return .haveAll
        case .haveNone: return .haveNone
        case .have: return .have(piece: frame.readInteger(as: UInt32.self) ?? 0)
        case .suggest: return .suggest(piece: frame.readInteger(as: UInt32.self) ?? 0)
        case .allowedFast: return .allowedFast(piece: frame.readInteger(as: UInt32.self) ?? 0)
        case .bitfield: return .bitfield(frame)
        case .request: return .request(readRequest(&frame))
        case .cancel: return .cancel(readRequest(&frame))
        case .reject: return .reject(readRequest(&frame))
        case .port: return .port(frame.readInteger(as: UInt16.self) ?? 0)
        case .piece:
            guard length >= 9 else { throw PeerWireError(.malformedMessage, "piece length \(length)") }
            let piece = frame.readInteger(as: UInt32.self) ?? 0
            let begin = frame.readInteger(as: UInt32.self) ?? 0
            return .piece(piece: piece, begin: begin, block: frame)
        }
    }
}
