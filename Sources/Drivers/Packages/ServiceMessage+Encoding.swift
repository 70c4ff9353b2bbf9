extension ServiceMessage {
    /// The message on the wire: `||` + escaped fields joined by `||` + `||eom`.
    public var encoded: [UInt8] {
        var out: [UInt8] = [124, 124]
        for field in fields {
            Self.appendEscaped(field, to: &out)
            out.append(124)
            out.append(124)
        }
        out.append(contentsOf: Array("eom".utf8))
        return out
    }

    /// The wire form as text (it is always valid UTF-8 when the fields are).
    public var encodedString: String { String(decoding: encoded, as: UTF8.self) }

    /// Escapes one value: `\` → `\\`, `|` → `\|`, and a value starting with `eom` gets its `e` as `\e`, so no
    /// value can be mistaken for the terminator.
    static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        let bytes = Array(value.utf8)
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case 92, 124:
                out.append(92)
                out.append(byte)
            case 101 where index == 0 && bytes.count >= 3 && bytes[1] == 111 && bytes[2] == 109:
                out.append(92)
                out.append(byte)
            default:
                out.append(byte)
            }
        }
    }

    /// Builds a message from a complete frame's unescaped fields.
    public init(fields: [String]) throws(ServiceMessageError) {
        guard fields.count >= 6 else { throw ServiceMessageError(.tooFewFields) }
        guard let kind = Kind(rawValue: fields[0]) else { throw ServiceMessageError(.unknownType) }
        guard fields[1] == Self.provisioningClass else { throw ServiceMessageError(.unknownClass) }
        guard ServiceCommand.isValidToken(fields[2]) else { throw ServiceMessageError(.invalidCommand) }
        let code: ResponseCode?
        switch kind {
        case .request:
            guard fields[3] == "null" else { throw ServiceMessageError(.invalidCode) }
            code = nil
        case .response:
            guard let known = ResponseCode(rawValue: fields[3]) else { throw ServiceMessageError(.invalidCode) }
            code = known
        }
        self.init(
            kind: kind, command: ServiceCommand(rawValue: fields[2]), code: code, node: fields[4],
            service: fields[5], payload: Array(fields[6...]), messageClass: fields[1])
    }
}
