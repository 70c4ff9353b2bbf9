import Testing

@testable import Drivers

/// BMC URLs: the parts a driver needs, and no way for a password to ride along.
struct BMCAddressTests {
    @Test(arguments: [
        ("ipmi://10.0.0.5", "ipmi", "10.0.0.5", nil as Int?, ""),
        ("IPMI://bmc-7.rack1:6230", "ipmi", "bmc-7.rack1", 6230, ""),
        (
            "redfish+https://[fe80::1]:8443/redfish/v1/Systems/1", "redfish+https", "fe80::1", 8443,
            "/redfish/v1/Systems/1"
        ),
        ("ilo://ilo-n12", "ilo", "ilo-n12", nil, ""),
        ("Redfish+HTTP://r-1:8000?x#y", "redfish+http", "r-1", 8000, "?x#y"),
    ])
    func parsesSchemeHostPortAndPath(text: String, scheme: String, host: String, port: Int?, path: String) throws {
        let address = try BMCAddress(parsing: text)
        #expect(address.scheme == scheme)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.path == path)
    }

    @Test(arguments: ["10.0.0.5", "ipmi://", "ipmi://host:0", "ipmi://host:99999", "ipmi://host:abc", "://x",
        "ipmi://[::1", "ipmi://[::1]x", "ipmi://:623", "ip mi://host", "ipmi://host:-1", "ipmi://host:"])
    func rejectsMalformedURLs(text: String) {
        let error = #expect(throws: PowerError.self) { try BMCAddress(parsing: text) }
        #expect(error?.code == .invalidAddress)
        #expect(error?.intent == .stalled)
    }

    @Test func refusesCredentialsInTheURLWithoutEchoingThem() {
        let error = #expect(throws: PowerError.self) { try BMCAddress(parsing: "ipmi://admin:hunter2@10.0.0.5") }
        #expect(error?.code == .invalidAddress)
        #expect(!(error?.description.contains("hunter2") ?? true))
    }

    @Test func descriptionsNeverShowThePassword() throws {
        let configuration = BMCConfiguration(
            address: try BMCAddress(parsing: "ipmi://10.0.0.5:623"), username: "admin", password: "hunter2")
        #expect(!"\(configuration)".contains("hunter2"))
        #expect("\(configuration.address)" == "ipmi://10.0.0.5:623")
    }
}
