/// Bytes that are not a valid service message. Every byte string maps to a message or one of these.
public struct ServiceMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the bytes.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A frame must start with `||` (after optional CR/LF between frames).
        case notAFrame
        /// A single `|` inside a value; values write `|` as `\|`.
        case unescapedPipe
        /// A backslash followed by something other than `\`, `|` or `e`.
        case invalidEscape
        /// The frame is longer than the parser's limit without reaching `eom`.
        case frameTooLong
        /// More fields than the parser's limit.
        case tooManyFields
        /// A field is not valid UTF-8.
        case invalidUTF8
        /// Fewer than the six fixed fields (TYPE, CLASS, COMMAND, CODE, MESSAGE0, MESSAGE1).
        case tooFewFields
        /// TYPE is neither `req` nor `res`.
        case unknownType
        /// CLASS is not `provisioning`.
        case unknownClass
        /// COMMAND is not a token (`[a-z0-9-]{1,32}`).
        case invalidCommand
        /// CODE is not `null` in a request, or not a known code in a response.
        case invalidCode
        /// One-shot parsing only: the input ended before `eom`.
        case truncated
        /// One-shot parsing only: bytes follow the frame's `eom`.
        case trailingData
    }

    public let code: Code
    /// Where in the stream (bytes since the start of the frame) the problem was seen, when known.
    public let offset: Int?

    public init(_ code: Code, offset: Int? = nil) {
        self.code = code
        self.offset = offset
    }

    /// True when the parser found the end of the bad frame and can go on with the next one.
    ///
    /// Framing errors (no `||`, bad escape, stray pipe, too long) lose the frame boundary: the connection must be
    /// answered `garbled` and closed. Errors in a complete frame's fields skip just that frame.
    public var isRecoverable: Bool {
        switch code {
        case .notAFrame, .unescapedPipe, .invalidEscape, .frameTooLong, .tooManyFields, .truncated, .trailingData: false
        case .invalidUTF8, .tooFewFields, .unknownType, .unknownClass, .invalidCommand, .invalidCode: true
        }
    }

    public var description: String {
        if let offset { "garbled service message: \(code.rawValue) at byte \(offset)" }
        else { "garbled service message: \(code.rawValue)" }
    }
}
