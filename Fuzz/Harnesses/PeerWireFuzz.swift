// libFuzzer entry point for the BitTorrent peer wire parser (handshake, then length-prefixed messages); built by
// scripts/fuzz.sh. The first byte picks the mode: bit 0 a handshake first, bit 1 a tiny message limit (bits 2-7 + 1
// bytes), bits 4-7 the drip-feed step; the rest is the stream.
// Property: the same events (handshakes, messages, then at most one error) whether the stream arrives whole or a
// few bytes at a time; a partial frame or a rejected one is never consumed; every parsed frame encodes back to
// exactly the bytes it was parsed from.

import NIOCore

@testable import Torrent

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPeerWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// One thing the parser reported.
enum WireEvent: Equatable {
    case handshake(Handshake)
    case message(PeerMessage)
    case error(PeerWireError.Code)
}

func drive(_ bytes: [UInt8]) {
    guard let control = bytes.first else { return }
    let stream = Array(bytes.dropFirst())
    let expectHandshake = control & 1 == 1
    let limit = control & 2 == 0 ? (128 << 10) + 13 : Int(control >> 2) + 1
    let step = Int(control >> 4) + 1
    let whole = wireEvents([stream[...]], expectHandshake: expectHandshake, limit: limit)
    let drips = stride(from: 0, to: stream.count, by: step).map { stream[$0..<min($0 + step, stream.count)] }
    let dripped = wireEvents(drips, expectHandshake: expectHandshake, limit: limit)
    precondition(whole == dripped, "the parser's events depend on how the bytes arrive")
}

/// Feeds `chunks` one after another to one parser and collects its events, up to the first error.
func wireEvents(_ chunks: [ArraySlice<UInt8>], expectHandshake: Bool, limit: Int) -> [WireEvent] {
    var parser = PeerWireParser(expectHandshake: expectHandshake, maxMessageLength: limit)
    var buffer = ByteBuffer()
    var events: [WireEvent] = []
    for chunk in chunks {
        buffer.writeBytes(chunk)
        while true {
            let before = buffer.readerIndex
            let pending = buffer.readableBytesView
            let result: PeerWireParser.Result
            do {
                result = try parser.parse(&buffer)
            } catch {
                precondition(buffer.readerIndex == before, "a rejected frame was consumed")
                events.append(.error(error.code))
                return events
            }
            var encoded = ByteBuffer()
            switch result {
            case .needMoreData:
                precondition(buffer.readerIndex == before, "a partial frame was consumed")
            case .handshake(let handshake):
                handshake.write(into: &encoded)
                events.append(.handshake(handshake))
            case .message(let message):
                message.write(into: &encoded)
                events.append(.message(message))
            }
            guard result != .needMoreData else { break }
            let consumed = pending.prefix(buffer.readerIndex - before)
            precondition(encoded.readableBytesView.elementsEqual(consumed), "a frame does not encode to its bytes")
        }
    }
    return events
}
