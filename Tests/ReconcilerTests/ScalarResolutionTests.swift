@testable import ReconcilerLoading
import Testing

/// What an unquoted scalar resolves to, as PyYAML and other YAML 1.1 tools read it: the loader refuses a plain
/// value of the wrong type where a string belongs, so every spelling of the words matters.
struct ScalarResolutionTests {
    @Test(arguments: ["", "~", "null", "Null", "NULL"])
    func nulls(_ text: String) { #expect(PlainScalarType(resolving: text) == .null) }

    @Test(arguments: ["yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
                      "on", "On", "ON", "off", "Off", "OFF"])
    func booleans(_ text: String) { #expect(PlainScalarType(resolving: text) == .bool) }

    /// Mixed spellings, the one-letter forms PyYAML leaves as strings, other short words, names and addresses.
    @Test(arguments: ["nULL", "nulL", "yEs", "oN", "tRUE", "FaLSE", "y", "n", "Y", "N", "os", "ok", "web", "nope",
                      "onn", "offf", "n120", "on-call", "r0003", "10.128.0.136", "7.9.2009", "1.2.3", "_x", "/boot",
                      "12:30:aa", "2026-1", "0x", "0b"])
    func strings(_ text: String) { #expect(PlainScalarType(resolving: text) == .string) }

    @Test func numbersAndDates() {
        for text in ["0", "42", "-7", "+3", "1_000", "0x1f", "0b101", "017", "12:30", "1:02:03"] {
            #expect(PlainScalarType(resolving: text) == .int, "\(text)")
        }
        for text in ["1.0", "-1.5", ".5", "1.5e+3", ".inf", "-.Inf", ".NaN", "12:30.5"] {
            #expect(PlainScalarType(resolving: text) == .float, "\(text)")
        }
        for text in ["2026-12-05", "2026-1-5T10:00:00", "2026-12-05 10:00"] {
            #expect(PlainScalarType(resolving: text) == .timestamp, "\(text)")
        }
    }
}
