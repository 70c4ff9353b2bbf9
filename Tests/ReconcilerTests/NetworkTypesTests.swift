import Foundation
import Reconciler
import Testing

struct NetworkTypesTests {
    @Test(arguments: ["52:54:00:AA:00:01", "52-54-00-aa-00-01"])
    func macForms(text: String) throws {
        let mac = try #require(MACAddress(text))
        #expect(mac.description == "52:54:00:aa:00:01")
        #expect(mac.pxeName == "01-52-54-00-aa-00-01")
    }

    @Test(arguments: ["52:54:00:aa:00", "52:54:00:aa:00:01:02", "52:54-00:aa:00:01", "5:54:00:aa:00:01", "gg:54:00:aa:00:01"])
    func badMACs(text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test(arguments: ["10.0.0.256", "10.0.0", "010.0.0.1", "1.2.3.4.5", "", "a.b.c.d"])
    func badIPv4(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func subnetMembership() throws {
        let net = try #require(IPv4Network("10.77.0.0/24"))
        #expect(net.contains(try #require(IPv4Address("10.77.0.200"))))
        #expect(!net.contains(try #require(IPv4Address("10.77.1.1"))))
        #expect(net.netmask.description == "255.255.255.0")
        #expect(IPv4Network("10.77.0.1/24") == nil)
    }

    /// MAC and IPv4 addresses travel in JSON as the text people write, and bad text is a decoding error.
    @Test func addressesAreJSONText() throws {
        let mac = try #require(MACAddress("52:54:00:AA:00:01"))
        let ip = try #require(IPv4Address("10.77.0.9"))
        #expect(String(decoding: try JSONEncoder().encode([mac]), as: UTF8.self) == #"["52:54:00:aa:00:01"]"#)
        #expect(String(decoding: try JSONEncoder().encode([ip]), as: UTF8.self) == #"["10.77.0.9"]"#)
        #expect(try JSONDecoder().decode([MACAddress].self, from: Data(#"["52-54-00-aa-00-01"]"#.utf8)) == [mac])
        #expect(try JSONDecoder().decode([IPv4Address].self, from: Data(#"["10.77.0.9"]"#.utf8)) == [ip])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([MACAddress].self, from: Data(#"["x"]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4Address].self, from: Data(#"[7]"#.utf8)) }
    }
}
