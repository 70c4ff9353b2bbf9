import LabSupport
import NIOCore
import Testing

@testable import Torrent

struct PeerWireParserTests {
    static let messages: [PeerMessage] = [
        .keepAlive, .choke, .unchoke, .interested, .notInterested, .have(piece: 7),
        .bitfield(ByteBuffer(bytes: [0xff, 0x80])),
        .request(BlockRequest(piece: 1, begin: 16384, length: 16384)),
        .piece(piece: 2, begin: 0, block: ByteBuffer(bytes: Array(repeating: 0xab, count: 300))),
        .cancel(BlockRequest(piece: 1, begin: 0, length: 16384)), .port(6881),
        .haveAll, .haveNone, .reject(BlockRequest(piece: 3, begin: 0, length: 5)), .allowedFast(piece: 4),
        .suggest(piece: 9), .unknown(id: 20, payload: ByteBuffer(bytes: [0, 1, 2])),
    ]

    static func stream() -> (bytes: [UInt8], handshake: Handshake) {
        let handshake = Handshake(
            infoHash: Array(repeating: 1, count: 20), peerID: Array("-RS0100-abcdefghijkl".utf8)
        )
        var buffer = ByteBuffer()
        handshake.write(into: &buffer)
        for message in messages { message.write(into: &buffer) }
        return (buffer.readBytes(length: buffer.readableBytes) ?? [], handshake)
    }

    /// Feeds `bytes` in the given chunk sizes and collects every parse result.
    static func feed(_ bytes: [UInt8], chunks: [Int]) throws -> [PeerWireParser.Result] {
        var parser = PeerWireParser()
        var buffer = ByteBuffer()
        var results: [PeerWireParser.Result] = []
        var offset = 0
        for chunk in chunks where offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            buffer.writeBytes(bytes[offset..<end])
            offset = end
            while true {
                let before = buffer.readerIndex
                let result = try parser.parse(&buffer)
                if result == .needMoreData {
                    #expect(buffer.readerIndex == before, "a partial frame was consumed")
                    break
                }
                results.append(result)
            }
        }
        return results
    }

    static func expected(_ handshake: Handshake) -> [PeerWireParser.Result] {
        [.handshake(handshake)] + messages.map { .message($0) }
    }

    @Test func dripFedOneByteAtATime() throws {
        let (bytes, handshake) = Self.stream()
        #expect(try Self.feed(bytes, chunks: Array(repeating: 1, count: bytes.count)) == Self.expected(handshake))
    }

    @Test(arguments: 0..<50) func randomSplits(seed: Int) throws {
        let (bytes, handshake) = Self.stream()
        var generator = SplitMix64(seed: UInt64(seed))
        var chunks: [Int] = []
        var total = 0
        while total < bytes.count {
            let size = Int.random(in: 1...80, using: &generator)
            chunks.append(size)
            total += size
        }
        #expect(try Self.feed(bytes, chunks: chunks) == Self.expected(handshake))
    }

    @Test func rejectsWrongProtocolEarly() {
        var parser = PeerWireParser()
        var buffer = ByteBuffer(bytes: [19] + Array("BitTorrent protocoX".utf8))
        #expect(throws: PeerWireError.self) { try parser.parse(&buffer) }
        var other = PeerWireParser()
        var http = ByteBuffer(bytes: Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: PeerWireError.self) { try other.parse(&http) }
    }

    @Test func rejectsOversizedAndMalformedFrames() {
        var parser = PeerWireParser(expectHandshake: false, maxMessageLength: 1000)
        var huge = ByteBuffer()
        huge.writeInteger(UInt32(1001))
        #expect(throws: PeerWireError(.oversizedMessage, "1001 bytes")) { try parser.parse(&huge) }
        for (length, id) in [(2, 0), (4, 4), (12, 6), (8, 7), (2, 14)] as [(UInt32, UInt8)] {
            var parser = PeerWireParser(expectHandshake: false)
            var frame = ByteBuffer()
            frame.writeInteger(length)
            frame.writeInteger(id)
            frame.writeBytes([UInt8](repeating: 0, count: Int(length) - 1))
            #expect(throws: PeerWireError.self) { try parser.parse(&frame) }
            #expect(frame.readerIndex == 0)
        }
    }

    @Test func truncatedInputOnlyAsksForMore() throws {
        let (bytes, _) = Self.stream()
        for end in [0, 1, 20, 67, 68, 70, 72] {
            var parser = PeerWireParser()
            var buffer = ByteBuffer(bytes: bytes[0..<end])
            var results: [PeerWireParser.Result] = []
            while true {
                let result = try parser.parse(&buffer)
                if result == .needMoreData { break }
                results.append(result)
            }
            #expect(results.count == (end >= 68 ? 1 : 0) + (end >= 72 ? 1 : 0))
        }
    }

    @Test func bitfieldRejectsSpareBitsAndWrongSize() {
        #expect(Bitfield(wire: [0xff, 0x80], count: 9)?.setCount == 9)
        #expect(Bitfield(wire: [0xff, 0xc0], count: 9) == nil)
        #expect(Bitfield(wire: [0xff], count: 9) == nil)
    }
}

struct PeerWireParserGarbageTests {
    /// Property: random bytes after a valid handshake never crash and never consume a partial frame.
    @Test func randomGarbageNeverCrashes() {
        var generator = SplitMix64(seed: 77)
        for _ in 0..<2000 {
            var parser = PeerWireParser(expectHandshake: false, maxMessageLength: 4096)
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0..<64, using: &generator) {
                bytes.append(UInt8.random(in: 0...255, using: &generator))
            }
            // Bias towards small length prefixes so frames complete.
            if bytes.count > 4, Bool.random(using: &generator) {
                bytes[0] = 0
                bytes[1] = 0
                bytes[2] = 0
            }
            var buffer = ByteBuffer(bytes: bytes)
            while true {
                let before = buffer.readerIndex
                guard let result = try? parser.parse(&buffer) else { break }
                if result == .needMoreData {
                    #expect(buffer.readerIndex == before)
                    break
                }
            }
        }
    }
}
