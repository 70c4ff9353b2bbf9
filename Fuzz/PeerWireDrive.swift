// One drive of the BitTorrent peer wire parser, shared by the libFuzzer harness (a SwiftPM target of
// scripts/fuzz.sh) and the corpus replay test (Tests/TorrentTests links it). The first byte picks the mode: bit 0 a
// handshake first, bit 1 a tiny message limit (bits 2-7 + 1 bytes), bits 4-7 the drip-feed step; the rest is the
// stream.
import NIOCore

@testable import Torrent

/// One thing the parser reported.
enum FuzzedWireEvent: Equatable {
    case handshake(Handshake)
    case message(PeerMessage)
    case error(PeerWireError.Code)
}

/// Parses the stream whole and drip-fed; the messages parsed and the problem when a property broke.
func drivePeerWire(_ bytes: [UInt8]) -> (messages: Int, problem: String?) {
    guard let control = bytes.first else { return (0, nil) }
    let stream = Array(bytes.dropFirst())
    let expectHandshake = control & 1 == 1
    let limit = control & 2 == 0 ? (128 << 10) + 13 : Int(control >> 2) + 1
    let step = Int(control >> 4) + 1
    let drips = stride(from: 0, to: stream.count, by: step).map { stream[$0..<min($0 + step, stream.count)] }
    do {
        let whole = try wireEvents([stream[...]], expectHandshake: expectHandshake, limit: limit)
        let dripped = try wireEvents(drips, expectHandshake: expectHandshake, limit: limit)
        let messages = whole.count { if case .message = $0 { true } else { false } }
        return (messages, whole == dripped ? nil : "the parser's events depend on how the bytes arrive")
    } catch {
        return (0, error.problem)
    }
}

/// A broken property of the parser.
struct PeerWireProblem: Error {
    var problem: String
}

/// Feeds `chunks` one after another to one parser and collects its events, up to the first error.
func wireEvents(
    _ chunks: [ArraySlice<UInt8>], expectHandshake: Bool, limit: Int
) throws(PeerWireProblem) -> [FuzzedWireEvent] {
    var parser = PeerWireParser(expectHandshake: expectHandshake, maxMessageLength: limit)
    var buffer = ByteBuffer()
    var events: [FuzzedWireEvent] = []
    for chunk in chunks {
        buffer.writeBytes(chunk)
        while true {
            let before = buffer.readerIndex
            let pending = buffer.readableBytesView
            let result: PeerWireParser.Result
            do {
                result = try parser.parse(&buffer)
            } catch {
                guard buffer.readerIndex == before else {
                    throw PeerWireProblem(problem: "a rejected frame was consumed")
                }
                events.append(.error(error.code))
                return events
            }
            var encoded = ByteBuffer()
            switch result {
            case .needMoreData:
                guard buffer.readerIndex == before else {
                    throw PeerWireProblem(problem: "a partial frame was consumed")
                }
            case .handshake(let handshake):
                handshake.write(into: &encoded)
                events.append(.handshake(handshake))
            case .message(let message):
                message.write(into: &encoded)
                events.append(.message(message))
            }
            guard result != .needMoreData else { break }
            let consumed = pending.prefix(buffer.readerIndex - before)
            guard encoded.readableBytesView.elementsEqual(consumed) else {
                throw PeerWireProblem(problem: "a frame does not encode to its bytes")
            }
        }
    }
    return events
}
