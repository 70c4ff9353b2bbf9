import LabSupport
import Testing

@testable import Torrent

struct BencodeStrictnessTests {
    @Test(arguments: [
        ("i03e", BencodeError.Code.invalidInteger, 1),
        ("i-0e", .invalidInteger, 1),
        ("ie", .invalidInteger, 1),
        ("i12", .unexpectedEnd, 3),
        ("i1x2e", .invalidInteger, 2),
        ("5:abc", .unexpectedEnd, 5),
        ("03:abc", .invalidLength, 0),
        ("d1:bi1e1:ai2ee", .unsortedKeys, 7),
        ("d1:ai1e1:ai2ee", .duplicateKey, 7),
        ("di1ei2ee", .invalidCharacter, 1),
        ("i1ei2e", .trailingData, 3),
        ("x", .invalidCharacter, 0),
        ("l", .unexpectedEnd, 1),
        ("i99999999999999999999e", .invalidInteger, 1),
    ])
    func rejectsWithLocation(text: String, code: BencodeError.Code, offset: Int) {
        #expect(throws: BencodeError(code: code, offset: offset)) {
            try BencodeDecoder.decode(Array(text.utf8))
        }
    }

    @Test func limitsDepthAndLength() {
        let deep = Array(String(repeating: "l", count: 100).utf8) + Array(String(repeating: "e", count: 100).utf8)
        #expect(throws: BencodeError.self) { try BencodeDecoder.decode(deep, limits: BencodeLimits(maxDepth: 64)) }
        #expect(throws: BencodeError(code: .tooLong, offset: 0)) {
            try BencodeDecoder.decode(Array("10:0123456789".utf8), limits: BencodeLimits(maxStringLength: 9))
        }
    }

    /// Property: random garbage and every truncation of valid input either decode or throw, never crash.
    @Test func garbageAndTruncationsNeverCrash() {
        var generator = SplitMix64(seed: 99)
        let alphabet = Array("ilde0123456789:-x".utf8)
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0..<24, using: &generator)).map { _ in
                alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
            }
            _ = try? BencodeDecoder.decode(bytes)
        }
        let valid = Array("d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee".utf8)
        #expect((try? BencodeDecoder.decode(valid)) != nil)
        for end in 0..<valid.count {
            #expect(throws: BencodeError.self) { try BencodeDecoder.decode(Array(valid[0..<end])) }
        }
    }
}
