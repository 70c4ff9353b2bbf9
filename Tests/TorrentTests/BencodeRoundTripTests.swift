import LabSupport
import Testing

@testable import Torrent

struct BencodeRoundTripTests {
    @Test(arguments: [
        ("i42e", BencodeValue.integer(42)),
        ("i-7e", .integer(-7)),
        ("i0e", .integer(0)),
        ("4:spam", .string("spam")),
        ("0:", .bytes([])),
        ("l4:spami3ee", .list([.string("spam"), .integer(3)])),
        ("d3:bar4:spam3:fooi42ee", .dict(["bar": .string("spam"), "foo": .integer(42)])),
    ])
    func decodesAndEncodesCanonicalForms(text: String, value: BencodeValue) throws {
        #expect(try BencodeDecoder.decode(Array(text.utf8)) == value)
        #expect(BencodeEncoder.encode(value) == Array(text.utf8))
    }

    @Test func encoderSortsKeysByRawBytes() {
        let value = BencodeValue.dict(["b": .integer(1), "a": .integer(2), "ab": .integer(3)])
        #expect(String(decoding: BencodeEncoder.encode(value), as: UTF8.self) == "d1:ai2e2:abi3e1:bi1ee")
    }

    @Test func randomValuesRoundTrip() throws {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let value = randomValue(depth: 0, using: &generator)
            let encoded = BencodeEncoder.encode(value)
            #expect(try BencodeDecoder.decode(encoded) == value)
        }
    }

    func randomValue(depth: Int, using generator: inout SplitMix64) -> BencodeValue {
        switch Int.random(in: 0..<(depth > 3 ? 2 : 4), using: &generator) {
        case 0: return .integer(Int64.random(in: Int64.min...Int64.max, using: &generator))
        case 1:
            return .bytes(
                (0..<Int.random(in: 0..<20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator)
                })
        case 2:
            return .list(
                (0..<Int.random(in: 0..<5, using: &generator)).map { _ in
                    randomValue(depth: depth + 1, using: &generator)
                })
        default:
            var entries: [[UInt8]: BencodeValue] = [:]
            for _ in 0..<Int.random(in: 0..<5, using: &generator) {
                let key = (0..<Int.random(in: 0..<6, using: &generator)).map { _ in
                    UInt8.random(in: 97...100, using: &generator)
                }
                entries[key] = randomValue(depth: depth + 1, using: &generator)
            }
            return .dictionary(entries)
        }
    }
}
