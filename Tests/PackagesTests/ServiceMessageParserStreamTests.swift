import Drivers
import LabSupport
import Testing

/// Drip-fed, split, concatenated, garbage and over-long input to the incremental parser.
struct ServiceMessageParserStreamTests {
    static let messages: [ServiceMessage] = [
        .request(.install, node: "node17", service: "web"),
        ServiceMessage.request(.status, node: "n||1", service: "eom", payload: ["a\\b", "", "x|y"])
            .response(.processNotRunning, payload: ["mediaServer died", "{}"]),
        .request(.inventory, node: "node2", service: "-", payload: [String(repeating: "z", count: 3000)]),
    ]

    /// Feeds `bytes` in the given chunk sizes and collects every event until the input is used up.
    static func run(_ bytes: [UInt8], chunks: [Int], parser: ServiceMessageParser = ServiceMessageParser())
        -> [ServiceMessageParser.Event]
    {
        var parser = parser
        var events: [ServiceMessageParser.Event] = []
        var offset = 0
        var sizes = chunks.makeIterator()
        while offset < bytes.count {
            let size = min(max(1, sizes.next() ?? 1), bytes.count - offset)
            parser.append(bytes[offset..<(offset + size)])
            offset += size
            while true {
                let event = parser.next()
                if event == .needMoreData { break }
                events.append(event)
                if case .error(let error) = event, !error.isRecoverable { return events }
            }
        }
        return events
    }

    static var stream: [UInt8] {
        messages.flatMap { $0.encoded + Array("\r\n".utf8) }
    }

    @Test func dripFedOneByteAtATime() {
        let events = Self.run(Self.stream, chunks: Array(repeating: 1, count: Self.stream.count))
        #expect(events == Self.messages.map { .message($0) })
    }

    @Test func randomSplits() {
        var generator = SplitMix64(seed: 0x5eed)
        for _ in 0..<200 {
            let chunks = (0..<Self.stream.count).map { _ in Int(generator.next() % 40) + 1 }
            #expect(Self.run(Self.stream, chunks: chunks) == Self.messages.map { .message($0) })
        }
    }

    @Test func partialFrameIsNeverConsumed() {
        var parser = ServiceMessageParser()
        let bytes = Self.messages[0].encoded
        parser.append(bytes.dropLast())
        #expect(parser.next() == .needMoreData)
        #expect(parser.bufferedByteCount == bytes.count - 1)
        parser.append([bytes[bytes.count - 1]])
        #expect(parser.next() == .message(Self.messages[0]))
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func recoverableErrorSkipsOnlyItsFrame() {
        let bad = Array("||req||provisioning||install||null||eom".utf8)
        let events = Self.run(bad + Self.messages[0].encoded, chunks: [3])
        #expect(events == [.error(ServiceMessageError(.tooFewFields)), .message(Self.messages[0])])
    }

    @Test func framingErrorIsFinal() {
        var parser = ServiceMessageParser()
        parser.append(Array("GET / HTTP/1.1\r\n".utf8) + Self.messages[0].encoded)
        guard case .error(let error) = parser.next() else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .notAFrame)
        #expect(!error.isRecoverable)
        #expect(parser.next() == .error(error))
    }

    @Test func lengthLimitStopsAnEndlessFrame() {
        var parser = ServiceMessageParser(maximumFrameLength: 1024)
        parser.append(Array("||req||provisioning||install||null||n||".utf8))
        #expect(parser.next() == .needMoreData)
        var result = ServiceMessageParser.Event.needMoreData
        for _ in 0..<100 where result == .needMoreData {
            parser.append(Array(repeating: UInt8(ascii: "a"), count: 100))
            result = parser.next()
        }
        guard case .error(let error) = result else {
            Issue.record("expected frameTooLong, got \(result)")
            return
        }
        #expect(error.code == .frameTooLong)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func tooManyFields() {
        var parser = ServiceMessageParser(maximumFieldCount: 10)
        parser.append(Array(("||req||provisioning||status||null||n||s" + String(repeating: "||x", count: 20)).utf8))
        guard case .error(let error) = parser.next() else {
            Issue.record("expected tooManyFields")
            return
        }
        #expect(error.code == .tooManyFields)
    }

    /// Random bytes, random mutations of valid frames and random truncations: the parser always ends in a
    /// message, a typed error or needMoreData, never traps, and gives the same events however the bytes are split.
    @Test func fuzz() async {
        // Seconds of computing on a loaded machine: on a thread of its own, not one of the pool's (see onOwnThread).
        await onOwnThread { Self.fuzzRounds() }
    }

    static func fuzzRounds() {
        var generator = SplitMix64(seed: 42)
        let alphabet = Array("|\\eom\r\nreq||provisioning||status||null".utf8) + [0, 0xff, 0xc3]
        let valid = Self.messages.map(\.encoded)
        for round in 0..<20_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = (0..<Int(generator.next() % 200)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            case 1:
                bytes = valid[Int(generator.next() % UInt64(valid.count))]
                for _ in 0..<Int(generator.next() % 4) + 1 where !bytes.isEmpty {
                    let index = Int(generator.next() % UInt64(bytes.count))
                    bytes[index] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                }
            default:
                let frame = valid[Int(generator.next() % UInt64(valid.count))]
                bytes = Array(frame.prefix(Int(generator.next() % UInt64(frame.count))))
            }
            let parser = ServiceMessageParser(maximumFrameLength: 4096)
            let chunks = (0..<max(1, bytes.count)).map { _ in Int(generator.next() % 7) + 1 }
            let events = Self.run(bytes, chunks: chunks, parser: parser)
            for event in events {
                if case .message(let message) = event {
                    // Anything accepted re-encodes to something that parses back to the same message.
                    #expect(ServiceMessageParser.parse(message.encoded) == .success(message))
                }
            }
            // Split feeding agrees with one-shot feeding.
            #expect(events == Self.run(bytes, chunks: [bytes.count], parser: parser))
            if round % 3 == 2, !bytes.isEmpty {
                #expect(ServiceMessageParser.parse(bytes).map { _ in true } != .success(true))
            }
        }
    }
}
