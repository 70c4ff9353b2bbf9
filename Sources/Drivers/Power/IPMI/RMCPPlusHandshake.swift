/// The RMCP+ session establishment messages (IPMI v2.0 section 13.17–13.23), cipher suites 3 and 17.
enum RMCPPlusHandshake {
    /// Open Session Request: asks for a session with one cipher suite at the given maximum privilege.
    struct OpenSessionRequest: Sendable, Equatable {
        var tag: UInt8
        var privilege: UInt8
        var consoleSessionID: UInt32
        var suite: IPMICipherSuite = .suite3

        func encoded() -> [UInt8] {
            var bytes: [UInt8] = [tag, privilege, 0, 0]
            bytes.appendLE32(consoleSessionID)
            let algorithms = suite.algorithms
            bytes.append(contentsOf: [0x00, 0, 0, 0x08, algorithms.authentication, 0, 0, 0])
            bytes.append(contentsOf: [0x01, 0, 0, 0x08, algorithms.integrity, 0, 0, 0])
            bytes.append(contentsOf: [0x02, 0, 0, 0x08, algorithms.confidentiality, 0, 0, 0])
            return bytes
        }
    }

    /// Open Session Response.
    struct OpenSessionResponse: Sendable, Equatable {
        var tag: UInt8
        var status: UInt8
        /// The maximum privilege the BMC grants; ipmi_sim sends 0 (reserved), which we accept as a known quirk.
        var maximumPrivilege: UInt8
        var consoleSessionID: UInt32
        var bmcSessionID: UInt32
        var authAlgorithm: UInt8
        var integrityAlgorithm: UInt8
        var confidentialityAlgorithm: UInt8

        static func decode(_ bytes: [UInt8]) throws(IPMICodecError) -> OpenSessionResponse {
            let status = try RMCPPlusHandshake.status(of: bytes, "Open Session Response", length: 36)
            guard status == 0 else {
                // An error response may stop after the console session ID.
                return OpenSessionResponse(
                    tag: bytes[0], status: status, maximumPrivilege: 0,
                    consoleSessionID: bytes.count >= 8 ? bytes.readLE32(at: 4) : 0, bmcSessionID: 0,
                    authAlgorithm: 0, integrityAlgorithm: 0, confidentialityAlgorithm: 0)
            }
            return OpenSessionResponse(
                tag: bytes[0], status: 0, maximumPrivilege: bytes[2] & 0x0F, consoleSessionID: bytes.readLE32(at: 4),
                bmcSessionID: bytes.readLE32(at: 8), authAlgorithm: bytes[16] & 0x3F,
                integrityAlgorithm: bytes[24] & 0x3F, confidentialityAlgorithm: bytes[32] & 0x3F)
        }
    }

    /// RAKP Message 1: the console's random number, role and user name.
    struct RAKP1: Sendable, Equatable {
        var tag: UInt8
        var bmcSessionID: UInt32
        var consoleRandom: [UInt8]
        /// Requested role byte: privilege in bits 3:0, name-only lookup in bit 4.
        var role: UInt8
        var username: [UInt8]

        func encoded() -> [UInt8] {
            var bytes: [UInt8] = [tag, 0, 0, 0]
            bytes.appendLE32(bmcSessionID)
            bytes.append(contentsOf: consoleRandom)
            bytes.append(contentsOf: [role, 0, 0, UInt8(username.count)])
            bytes.append(contentsOf: username)
            return bytes
        }
    }

    /// RAKP Message 2: the BMC's random number, GUID and proof it knows the user's key.
    struct RAKP2: Sendable, Equatable {
        var tag: UInt8
        var status: UInt8
        var consoleSessionID: UInt32
        var bmcRandom: [UInt8]
        var bmcGUID: [UInt8]
        var authCode: [UInt8]

        static func decode(_ bytes: [UInt8], suite: IPMICipherSuite = .suite3) throws(IPMICodecError) -> RAKP2 {
            let end = 40 + suite.rakpAuthCodeSize
            let status = try RMCPPlusHandshake.status(of: bytes, "RAKP 2", length: end)
            guard status == 0 else {
                return RAKP2(tag: bytes[0], status: status, consoleSessionID: 0, bmcRandom: [], bmcGUID: [],
                    authCode: [])
            }
            return RAKP2(
                tag: bytes[0], status: 0, consoleSessionID: bytes.readLE32(at: 4), bmcRandom: Array(bytes[8..<24]),
                bmcGUID: Array(bytes[24..<40]), authCode: Array(bytes[40..<end]))
        }
    }

    /// RAKP Message 3: the console's proof it knows the user's key.
    struct RAKP3: Sendable, Equatable {
        var tag: UInt8
        var status: UInt8
        var bmcSessionID: UInt32
        var authCode: [UInt8]

        func encoded() -> [UInt8] {
            var bytes: [UInt8] = [tag, status, 0, 0]
            bytes.appendLE32(bmcSessionID)
            bytes.append(contentsOf: authCode)
            return bytes
        }
    }

    /// RAKP Message 4: the BMC's integrity check value over the session parameters.
    struct RAKP4: Sendable, Equatable {
        var tag: UInt8
        var status: UInt8
        var consoleSessionID: UInt32
        var integrityCheck: [UInt8]

        static func decode(_ bytes: [UInt8], suite: IPMICipherSuite = .suite3) throws(IPMICodecError) -> RAKP4 {
            let end = 8 + suite.integrityCheckSize
            let status = try RMCPPlusHandshake.status(of: bytes, "RAKP 4", length: end)
            guard status == 0 else {
                return RAKP4(tag: bytes[0], status: status, consoleSessionID: 0, integrityCheck: [])
            }
            return RAKP4(
                tag: bytes[0], status: 0, consoleSessionID: bytes.readLE32(at: 4),
                integrityCheck: Array(bytes[8..<end]))
        }
    }

    /// The status byte of a BMC's handshake answer (after its tag), once the bytes are long enough: an error answer
    /// needs only the tag and status, a success answer all of its `length` bytes.
    static func status(of bytes: [UInt8], _ name: String, length: Int) throws(IPMICodecError) -> UInt8 {
        guard bytes.count >= 2, bytes[1] != 0 || bytes.count >= length else {
            throw IPMICodecError(.truncated, name)
        }
        return bytes[1]
    }

    /// A readable name for an RMCP+ status code (IPMI v2.0 table 13-15).
    static func statusName(_ status: UInt8) -> String {
        switch status {
        case 0x01: "insufficient resources to create a session"
        case 0x02: "invalid session ID"
        case 0x04, 0x05, 0x10, 0x11: "cipher suite not accepted"
        case 0x09, 0x0A: "role or privilege level refused"
        case 0x0B: "insufficient resources for the requested role"
        case 0x0C: "invalid user name length"
        case 0x0D: "unauthorized user name"
        case 0x0E: "unauthorized GUID"
        case 0x0F: "invalid integrity check value"
        default: "RMCP+ status 0x\(String(status, radix: 16))"
        }
    }
}
