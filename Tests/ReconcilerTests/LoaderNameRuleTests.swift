@testable import ReconcilerLoading
import Testing

/// The byte rules the loader checks names and BMC hosts with.
struct LoaderNameRuleTests {
    @Test func hosts() {
        let label63 = String(repeating: "a", count: 63)
        for host in ["10.0.0.5", "bmc-121.example.net", "a", "A-1.b2", "x.\(label63)", label63] {
            #expect(FieldDecoder.isValidHost(host), "\(host)")
        }
        for host in ["", "1.2.3", "999.1.1.1", "-a.b", "a-.b", "a..b", "a.b.", ".a", "a.-", "a_b", "a b", "bmc/1",
                     "a.\(label63)a", String(repeating: "a.", count: 127) + "a"] {
            #expect(!FieldDecoder.isValidHost(host), "\(host)")
        }
    }

    @Test func names() {
        for name in ["a", "r0003", "n120", "web-1", "a.b_c", String(repeating: "a", count: 63)] {
            #expect(FieldDecoder.isValidName(name), "\(name)")
        }
        for name in ["", "-a", "a-", "A", "aB", "a b", "é", String(repeating: "a", count: 64)] {
            #expect(!FieldDecoder.isValidName(name), "\(name)")
        }
    }
}
