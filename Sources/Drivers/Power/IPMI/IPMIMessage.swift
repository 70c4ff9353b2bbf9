/// An IPMI request as carried over LAN: from the remote console (software ID 0x81) to the BMC (0x20).
struct IPMIRequest: Sendable, Equatable {
    var netFn: UInt8
    var command: UInt8
    /// The six-bit request sequence number, echoed in the response.
    var sequence: UInt8
    var data: [UInt8]

    static let bmcAddress: UInt8 = 0x20
    static let consoleAddress: UInt8 = 0x81

    /// Serializes the LAN message with both checksums.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.bmcAddress, netFn << 2]
        bytes.append(ipmiChecksum(bytes))
        let bodyStart = bytes.count
        bytes.append(contentsOf: [Self.consoleAddress, (sequence & 0x3F) << 2, command])
        bytes.append(contentsOf: data)
        bytes.append(ipmiChecksum(bytes[bodyStart...]))
        return bytes
    }
}

/// An IPMI response as carried over LAN.
struct IPMIResponse: Sendable, Equatable {
    var netFn: UInt8
    var command: UInt8
    var sequence: UInt8
    var completionCode: UInt8
    var data: [UInt8]

    /// Decodes a LAN response message, checking both checksums.
    static func decode(_ bytes: [UInt8]) throws(IPMICodecError) -> IPMIResponse {
        guard bytes.count >= 8 else { throw IPMICodecError(.truncated, "IPMI response of \(bytes.count) bytes") }
        guard ipmiChecksum(bytes[0..<2]) == bytes[2] else { throw IPMICodecError(.badChecksum, "header") }
        guard ipmiChecksum(bytes[3..<(bytes.count - 1)]) == bytes[bytes.count - 1] else {
            throw IPMICodecError(.badChecksum, "body")
        }
        return IPMIResponse(
            netFn: bytes[1] >> 2, command: bytes[5], sequence: bytes[4] >> 2, completionCode: bytes[6],
            data: Array(bytes[7..<(bytes.count - 1)]))
    }

    /// Serializes the response as a BMC would (used by tests and fakes).
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [IPMIRequest.consoleAddress, netFn << 2]
        bytes.append(ipmiChecksum(bytes))
        let bodyStart = bytes.count
        bytes.append(contentsOf: [IPMIRequest.bmcAddress, (sequence & 0x3F) << 2, command, completionCode])
        bytes.append(contentsOf: data)
        bytes.append(ipmiChecksum(bytes[bodyStart...]))
        return bytes
    }
}

/// The IPMI two's-complement checksum: the byte that makes the sum of the range and itself zero.
func ipmiChecksum(_ bytes: some Sequence<UInt8>) -> UInt8 {
    var sum: UInt8 = 0
    for byte in bytes { sum &+= byte }
    return 0 &- sum
}

/// The IPMI commands this client sends.
enum IPMICommand {
    static let appNetFn: UInt8 = 0x06
    static let chassisNetFn: UInt8 = 0x00

    static let getChannelAuthCapabilities: UInt8 = 0x38
    static let setSessionPrivilegeLevel: UInt8 = 0x3B
    static let closeSession: UInt8 = 0x3C
    static let getChassisStatus: UInt8 = 0x01
    static let chassisControl: UInt8 = 0x02
    static let setSystemBootOptions: UInt8 = 0x08
    static let getSystemBootOptions: UInt8 = 0x09

    /// Privilege level ADMINISTRATOR.
    static let administrator: UInt8 = 0x04

    /// Chassis Control data byte for an action.
    static func chassisControlCode(_ action: PowerAction) -> UInt8 {
        switch action {
        case .off: 0x00
        case .on: 0x01
        case .cycle: 0x02
        case .reset: 0x03
        case .softOff: 0x05
        }
    }

    /// Set System Boot Options parameter 5 (boot flags) data for a device and persistence.
    static func bootFlags(_ device: BootDevice, persistence: BootPersistence) -> [UInt8] {
        let valid: UInt8 = 0x80 | (persistence == .persistent ? 0x40 : 0x00)
        let selector: UInt8 =
            switch device {
            case .pxe: 0x04
            case .disk: 0x08
            }
        return [0x05, valid, selector, 0x00, 0x00, 0x00]
    }

    /// Decodes boot flags (Get System Boot Options parameter 5 data, after the version and selector bytes).
    static func decodeBootFlags(_ flags: [UInt8]) -> (device: BootDevice?, persistence: BootPersistence, valid: Bool)? {
        guard flags.count >= 2 else { return nil }
        let device: BootDevice? =
            switch (flags[1] >> 2) & 0x0F {
            case 0x01: .pxe
            case 0x02: .disk
            default: nil
            }
        return (device, flags[0] & 0x40 != 0 ? .persistent : .once, flags[0] & 0x80 != 0)
    }
}
