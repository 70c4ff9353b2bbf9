/// An incremental, total parser of service messages from a byte stream.
///
/// Append bytes as they arrive and call `next()` until it returns `.needMoreData`. A frame's bytes stay in the
/// buffer until its `eom` is seen, so a partial frame is never consumed. Between frames, CR and LF are skipped
/// (so `nc` users can press return). Any byte string yields messages, `.needMoreData`, or typed errors.
public struct ServiceMessageParser: Sendable {
    /// The result of one `next()` call.
    public enum Event: Sendable, Hashable {
        /// No complete frame in the buffer yet.
        case needMoreData
        /// A complete, valid message; its bytes are consumed.
        case message(ServiceMessage)
        /// Bad input. If the error is recoverable its frame was consumed and parsing goes on; otherwise the
        /// parser stays failed and returns the same error forever.
        case error(ServiceMessageError)
    }

    /// Where the scanner is inside the current frame.
    enum State: Sendable, Hashable {
        /// Between frames: skipping CR/LF, waiting for the first `|`.
        case betweenFrames
        /// Saw the first `|` of the frame's leading `||`.
        case leadingPipe
        /// Inside a field (possibly empty).
        case field
        /// Saw a `\` inside a field.
        case escape
        /// Saw one `|` inside a field: the next byte must be `|` (end of field).
        case separatorPipe
        /// Unrecoverable error.
        case failed(ServiceMessageError)
    }

    /// Default longest frame: 64 KiB.
    public static let defaultMaximumFrameLength = 64 * 1024
    /// Default largest number of fields in one frame.
    public static let defaultMaximumFieldCount = 1024

    public let maximumFrameLength: Int
    public let maximumFieldCount: Int

    private var buffer: [UInt8] = []
    /// Index in `buffer` where the current frame starts.
    private var frameStart = 0
    /// Index of the next byte to scan.
    private var cursor = 0
    private var state: State = .betweenFrames
    private var fields: [[UInt8]] = []
    private var current: [UInt8] = []
    /// Raw (undecoded) bytes of the current field so far, used to spot the `eom` terminator.
    private var currentRawLength = 0
    /// True while the current field's raw bytes are a prefix of `eom`.
    private var currentMayBeTerminator = true

    public init(
        maximumFrameLength: Int = ServiceMessageParser.defaultMaximumFrameLength,
        maximumFieldCount: Int = ServiceMessageParser.defaultMaximumFieldCount
    ) {
        self.maximumFrameLength = max(16, maximumFrameLength)
        self.maximumFieldCount = max(7, maximumFieldCount)
    }

    /// Bytes received but not yet consumed by a complete frame or skipped.
    public var bufferedByteCount: Int { buffer.count - frameStart }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if case .failed = state { return }
        buffer.append(contentsOf: bytes)
    }

    /// Scans the buffer for the next frame.
    public mutating func next() -> Event {
        if case .failed(let error) = state { return .error(error) }
        while cursor < buffer.count {
            let byte = buffer[cursor]
            cursor += 1
            if let event = step(byte) { return event }
            if state != .betweenFrames && cursor - frameStart > maximumFrameLength {
                return fail(.frameTooLong)
            }
        }
        compact()
        return .needMoreData
    }

    /// Parses a whole byte string holding exactly one frame (plus optional CR/LF around it).
    public static func parse(_ bytes: some Sequence<UInt8>) -> Result<ServiceMessage, ServiceMessageError> {
        var parser = ServiceMessageParser()
        parser.append(bytes)
        switch parser.next() {
        case .message(let message):
            var rest = parser
            if case .needMoreData = rest.next(), rest.bufferedByteCount == 0 { return .success(message) }
            return .failure(ServiceMessageError(.trailingData))
        case .error(let error): return .failure(error)
        case .needMoreData: return .failure(ServiceMessageError(.truncated))
        }
    }

    /// Advances the state machine by one byte; returns an event when a frame ends or fails.
    private mutating func step(_ byte: UInt8) -> Event? {
        switch state {
        case .betweenFrames:
            if byte == 13 || byte == 10 {
                frameStart = cursor
                return nil
            }
            frameStart = cursor - 1
            guard byte == 124 else { return fail(.notAFrame) }
            state = .leadingPipe
        case .leadingPipe:
            guard byte == 124 else { return fail(.notAFrame) }
            startField()
        case .field:
            currentRawLength += 1
            switch byte {
            case 92:
                currentMayBeTerminator = false
                state = .escape
            case 124:
                currentMayBeTerminator = false
                state = .separatorPipe
            default:
                let expected: [UInt8] = [101, 111, 109]  // "eom"
                if currentMayBeTerminator, currentRawLength <= 3, byte == expected[currentRawLength - 1] {
                    if currentRawLength == 3 { return finishFrame() }
                } else {
                    currentMayBeTerminator = false
                }
                current.append(byte)
            }
        case .escape:
            currentRawLength += 1
            guard byte == 92 || byte == 124 || byte == 101 else { return fail(.invalidEscape) }
            current.append(byte)
            state = .field
        case .separatorPipe:
            guard byte == 124 else { return fail(.unescapedPipe) }
            fields.append(current)
            guard fields.count < maximumFieldCount else { return fail(.tooManyFields) }
            startField()
        case .failed(let error):
            return .error(error)
        }
        return nil
    }

    private mutating func startField() {
        current = []
        currentRawLength = 0
        currentMayBeTerminator = true
        state = .field
    }

    private mutating func finishFrame() -> Event {
        let raw = fields
        fields = []
        current = []
        state = .betweenFrames
        frameStart = cursor
        compact()
        var strings: [String] = []
        strings.reserveCapacity(raw.count)
        for field in raw {
            guard let text = String(validating: field, as: UTF8.self) else {
                return .error(ServiceMessageError(.invalidUTF8))
            }
            strings.append(text)
        }
        do {
            return .message(try ServiceMessage(fields: strings))
        } catch {
            return .error(error)
        }
    }

    private mutating func fail(_ code: ServiceMessageError.Code) -> Event {
        let error = ServiceMessageError(code, offset: max(0, cursor - frameStart - 1))
        state = .failed(error)
        buffer = []
        frameStart = 0
        cursor = 0
        fields = []
        current = []
        return .error(error)
    }

    /// Drops consumed bytes once they are a good part of the buffer.
    private mutating func compact() {
        guard frameStart > 0, frameStart >= buffer.count / 2 || frameStart == buffer.count else { return }
        buffer.removeFirst(frameStart)
        cursor -= frameStart
        frameStart = 0
    }
}
