import NIOCore

/// The 68-byte opening of every peer connection: protocol name, reserved bits, info-hash, peer id.
public struct Handshake: Sendable, Equatable {
    /// The eight reserved bytes (extension bits).
    public var reserved = [UInt8](repeating: 0, count: 8)
    /// The torrent's info-hash.
    public var infoHash: [UInt8]
    /// The sender's 20-byte peer id.
    public var peerID: [UInt8]

    /// The protocol string every v1 handshake starts with.
    public static let protocolName = Array("BitTorrent protocol".utf8)
    /// The encoded size.
    public static let size = 68
    /// Reserved bit for the Fast extension (BEP 6): byte 7, bit 0x04.
    public static let fastExtensionBit: (byte: Int, mask: UInt8) = (7, 0x04)

    /// Whether the sender supports the Fast extension.
    public var supportsFastExtension: Bool {
        reserved.count == 8 && reserved[Self.fastExtensionBit.byte] & Self.fastExtensionBit.mask != 0
    }

    /// Appends the encoding to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(Self.protocolName.count))
        buffer.writeBytes(Self.protocolName)
        buffer.writeBytes(reserved)
        buffer.writeBytes(infoHash)
        buffer.writeBytes(peerID)
    }
}

/// A block request, as sent in `request`, `cancel` and `reject` messages.
public struct BlockRequest: Sendable, Hashable {
    /// The piece index.
    public var piece: UInt32
    /// The byte offset within the piece.
    public var begin: UInt32
    /// The block length.
    public var length: UInt32
}

/// One peer wire message (BEP 3, plus the Fast extension of BEP 6 and the extension protocol's envelope).
public enum PeerMessage: Sendable, Equatable {
    case keepAlive
    case choke
    case unchoke
    case interested
    case notInterested
    case have(piece: UInt32)
    case bitfield(ByteBuffer)
    case request(BlockRequest)
    case piece(piece: UInt32, begin: UInt32, block: ByteBuffer)
    case cancel(BlockRequest)
    case port(UInt16)
    case suggest(piece: UInt32)
    case haveAll
    case haveNone
    case reject(BlockRequest)
    case allowedFast(piece: UInt32)
    /// A message with an id this engine does not act on (e.g. the BEP 10 extension protocol); skipped.
    case unknown(id: UInt8, payload: ByteBuffer)

    /// Wire ids.
    enum ID: UInt8 {
        case choke = 0, unchoke, interested, notInterested, have, bitfield, request, piece, cancel, port
        case suggest = 13, haveAll, haveNone, reject, allowedFast

        /// The length (id byte included) every message of this id has, which the parser demands; nil for the two
        /// whose length follows their payload (bitfield, piece).
        var fixedLength: Int? {
            switch self {
            case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: 1
            case .have, .suggest, .allowedFast: 5
            case .port: 3
            case .request, .cancel, .reject: 13
            case .bitfield, .piece: nil
            }
        }
    }

    /// Appends the length-prefixed encoding to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .keepAlive:
            buffer.writeInteger(UInt32(0))
        case .choke: Self.writeBare(.choke, into: &buffer)
        case .unchoke: Self.writeBare(.unchoke, into: &buffer)
        case .interested: Self.writeBare(.interested, into: &buffer)
        case .notInterested: Self.writeBare(.notInterested, into: &buffer)
        case .haveAll: Self.writeBare(.haveAll, into: &buffer)
        case .haveNone: Self.writeBare(.haveNone, into: &buffer)
        case .have(let piece): Self.writeIndex(.have, piece, into: &buffer)
        case .suggest(let piece): Self.writeIndex(.suggest, piece, into: &buffer)
        case .allowedFast(let piece): Self.writeIndex(.allowedFast, piece, into: &buffer)
        case .bitfield(let bits):
            buffer.writeInteger(UInt32(1 + bits.readableBytes))
            buffer.writeInteger(ID.bitfield.rawValue)
            buffer.writeImmutableBuffer(bits)
        case .request(let request): Self.writeRequest(.request, request, into: &buffer)
        case .cancel(let request): Self.writeRequest(.cancel, request, into: &buffer)
        case .reject(let request): Self.writeRequest(.reject, request, into: &buffer)
        case .piece(let piece, let begin, let block):
            buffer.writeInteger(UInt32(9 + block.readableBytes))
            buffer.writeInteger(ID.piece.rawValue)
            buffer.writeInteger(piece)
            buffer.writeInteger(begin)
            buffer.writeImmutableBuffer(block)
        case .port(let port):
            buffer.writeInteger(UInt32(3))
            buffer.writeInteger(ID.port.rawValue)
            buffer.writeInteger(port)
        case .unknown(let id, let payload):
            buffer.writeInteger(UInt32(1 + payload.readableBytes))
            buffer.writeInteger(id)
            buffer.writeImmutableBuffer(payload)
        }
    }

    private static func writeBare(_ id: ID, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(1))
        buffer.writeInteger(id.rawValue)
    }

    private static func writeIndex(_ id: ID, _ piece: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(5))
        buffer.writeInteger(id.rawValue)
        buffer.writeInteger(piece)
    }

    private static func writeRequest(_ id: ID, _ request: BlockRequest, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(13))
        buffer.writeInteger(id.rawValue)
        buffer.writeInteger(request.piece)
        buffer.writeInteger(request.begin)
        buffer.writeInteger(request.length)
    }
}
