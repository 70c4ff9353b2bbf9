import Foundation
import NIOCore
import Testing

@testable import Torrent

/// Every input libFuzzer kept for the peer wire parser (Fuzz/corpus/peer-wire, grown by `scripts/fuzz.sh 60
/// peer-wire`), replayed through the real parser with the harness's properties: the same events whole or
/// drip-fed, nothing partial or rejected consumed, every frame encoding back to its bytes.
struct PeerWireCorpusTests {
    enum Event: Equatable {
        case handshake(Handshake)
        case message(PeerMessage)
        case error(PeerWireError.Code)
    }

    /// Feeds `chunks` to one parser; nil when a property broke (a consumed partial or rejected frame, or a frame
    /// that does not encode to its bytes).
    static func events(_ chunks: [ArraySlice<UInt8>], expectHandshake: Bool, limit: Int) -> [Event]? {
        var parser = PeerWireParser(expectHandshake: expectHandshake, maxMessageLength: limit)
        var buffer = ByteBuffer()
        var events: [Event] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while true {
                let before = buffer.readerIndex
                let pending = buffer.readableBytesView
                let result: PeerWireParser.Result
                do {
                    result = try parser.parse(&buffer)
                } catch {
                    guard buffer.readerIndex == before else { return nil }
                    return events + [.error(error.code)]
                }
                var encoded = ByteBuffer()
                switch result {
                case .needMoreData:
                    guard buffer.readerIndex == before else { return nil }
                case .handshake(let handshake):
                    handshake.write(into: &encoded)
                    events.append(.handshake(handshake))
                case .message(let message):
                    message.write(into: &encoded)
                    events.append(.message(message))
                }
                guard result != .needMoreData else { break }
                guard encoded.readableBytesView.elementsEqual(pending.prefix(buffer.readerIndex - before)) else {
                    return nil
                }
            }
        }
        return events
    }

    @Test func corpusHoldsTheHarnessProperties() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/peer-wire")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.count >= 5)
        var messages = 0
        for name in names {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
            guard let control = bytes.first else { continue }
            let stream = Array(bytes.dropFirst())
            let limit = control & 2 == 0 ? (128 << 10) + 13 : Int(control >> 2) + 1
            let step = Int(control >> 4) + 1
            let whole = Self.events([stream[...]], expectHandshake: control & 1 == 1, limit: limit)
            let drips = stride(from: 0, to: stream.count, by: step).map { stream[$0..<min($0 + step, stream.count)] }
            let dripped = Self.events(drips, expectHandshake: control & 1 == 1, limit: limit)
            #expect(whole != nil && whole == dripped, "\(name)")
            messages += whole?.count { if case .message = $0 { true } else { false } } ?? 0
        }
        // The seeds hold every message type: the corpus exercises more than the handshake.
        #expect(messages >= 17)
    }
}
