import RackswarmCore
import Testing

/// The one size and duration grammar: units, limits named in errors, and no trap at the extremes.
struct QuantityTests {
    @Test(arguments: [
        ("4194304", Int64(4 << 20)), ("4M", 4 << 20), ("4MiB", 4 << 20), ("4MB", 4_000_000), ("16KiB", 16384),
        ("16K", 16384), ("16kB", 16000), ("1G", 1 << 30), ("2GB", 2_000_000_000), ("1TiB", 1 << 40), ("7B", 7),
    ])
    func sizes(text: String, bytes: Int64) throws {
        #expect(try Quantity.bytes(text, in: 0...Int64.max) == bytes)
    }

    @Test(arguments: [
        ("90", Duration.seconds(90)), ("90s", .seconds(90)), ("5m", .seconds(300)), ("1h30m", .seconds(5400)),
        ("250ms", .milliseconds(250)), ("2d", .seconds(172_800)), ("0.5", .milliseconds(500)),
        ("1.25", .milliseconds(1250)), ("366d", .seconds(366 * 86400)),
    ])
    func durations(text: String, duration: Duration) throws {
        #expect(try Quantity.duration(text, in: Quantity.durations) == duration)
    }

    /// The extremes of 64 bits, and sums past them, are range errors that name the limits, never a trap.
    @Test(arguments: [
        "106751991167301d", "9223372036854775807", "9223372036854775808", "99999999999999999999999999s",
        "9223372036854775807d", "9223372036854775807ms1d", "367d", "0", "0ms", "0.0",
    ])
    func durationExtremes(text: String) {
        #expect(throws: QuantityError.self) { try Quantity.duration(text, in: Quantity.durations) }
        do {
            _ = try Quantity.duration(text, in: Quantity.durations)
        } catch {
            #expect(error.message.contains("between 1ms and 366d"), "\(error.message)")
        }
    }

    @Test(arguments: [
        "9223372036854775807K", "9223372036854775808", "8388608TiB", "4G", "99999999999999999999999MiB",
    ])
    func sizeExtremes(text: String) {
        do {
            _ = try Quantity.bytes(text, in: Quantity.pieceSizes)
            Issue.record("accepted '\(text)'")
        } catch {
            #expect(error.message.contains("between 16KiB and 64MiB"), "\(error.message)")
        }
    }

    @Test(arguments: ["", "M", "4X", "-4M", "4 M", "1.5M", "4m", "٣M", "4MiBB"])
    func malformedSizes(text: String) {
        #expect(throws: QuantityError.self) { try Quantity.bytes(text, in: 0...Int64.max) }
    }

    @Test(arguments: ["", "s", "1h30", "-5s", "5 m", "1.5h", "0.1234567", "٣s", "1w", "5S", "5u", "5Us", "5ns"])
    func malformedDurations(text: String) {
        #expect(throws: QuantityError.self) { try Quantity.duration(text, in: .zero ... .seconds(1 << 40)) }
    }

    /// The microsecond is the smallest unit: `us`, the micro sign and the Greek mu, and six decimals of a second.
    @Test(arguments: [
        ("50us", Duration.microseconds(50)), ("50\u{B5}s", .microseconds(50)), ("50\u{3BC}s", .microseconds(50)),
        ("1ms500us", .microseconds(1500)), ("0.00005", .microseconds(50)), ("0.000001", .microseconds(1)),
        ("0.1234", .microseconds(123_400)), ("1s1us", .microseconds(1_000_001)), ("1000000us", .seconds(1)),
    ])
    func microseconds(text: String, duration: Duration) throws {
        #expect(try Quantity.duration(text, in: .zero ... .seconds(2)) == duration)
    }

    /// A range's bounds in microseconds are named in them; the site's range still starts at 1 ms.
    @Test func microsecondLimits() throws {
        #expect(try Quantity.duration("1000us", in: Quantity.durations) == .milliseconds(1))
        for (text, range, limits) in [
            ("999us", Quantity.durations, "between 1ms and 366d"),
            ("0.0009", Quantity.durations, "between 1ms and 366d"),
            ("0us", Duration.microseconds(1) ... .seconds(1), "between 1us and 1s"),
            ("1000001us", .microseconds(1) ... .seconds(1), "between 1us and 1s"),
            ("9223372036854775807us", .zero ... .seconds(1), "between 0s and 1s"),
            ("9223372036854775807us1us", .zero ... .seconds(1), "between 0s and 1s"),
            ("106752d", .zero ... .microseconds(2500), "between 0s and 2500us"),
        ] {
            do {
                _ = try Quantity.duration(text, in: range)
                Issue.record("accepted '\(text)'")
            } catch {
                #expect(error.message.contains(limits), "\(error.message)")
            }
        }
        #expect(Quantity.describe(.microseconds(50)) == "50us")
        #expect(Quantity.describe(.microseconds(1_000_050)) == "1000050us")
        #expect(Quantity.describe(.microseconds(2000)) == "2ms")
    }

    /// A hostile value cannot flood the error message.
    @Test func longValueIsClipped() {
        let text = String(repeating: "9", count: 100_000) + "d"
        do {
            _ = try Quantity.duration(text, in: Quantity.durations)
            Issue.record("accepted")
        } catch {
            #expect(error.message.count < 200)
        }
    }
}
