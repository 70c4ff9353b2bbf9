import BootServer
import Testing

/// The `Range` header parser against RFC 9110's cases.
struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-99", 1000, ByteRange.partial(0...99)),
        ("bytes=100-", 1000, .partial(100...999)),
        ("bytes=-100", 1000, .partial(900...999)),
        ("bytes=-5000", 1000, .partial(0...999)),
        ("bytes=990-2000", 1000, .partial(990...999)),
        ("bytes=999-999", 1000, .partial(999...999)),
        (" bytes=1-2 ", 1000, .partial(1...2)),
        ("bytes=1000-", 1000, .unsatisfiable),
        ("bytes=5000-6000", 1000, .unsatisfiable),
        ("bytes=-0", 1000, .unsatisfiable),
        ("bytes=0-", 0, .unsatisfiable),
        ("bytes=5-1", 1000, .full),
        ("bytes=0-1,5-6", 1000, .full),
        ("items=0-1", 1000, .full),
        ("bytes=a-b", 1000, .full),
        ("bytes=-", 1000, .full),
        ("bytes=0-99999999999999999999999", 1000, .partial(0...999)),
        // Found by the fuzzer: a start past the file with an end too big for an Int trapped (34...8).
        ("bytes=34-88888888888888888888888888888888888888888888888", 9, .unsatisfiable),
        ("bytes=99999999999999999999999-", 10, .unsatisfiable),
    ])
    func parses(header: String, size: Int, expected: ByteRange) {
        #expect(ByteRange.parse(header, size: size) == expected)
    }

    @Test func noHeaderIsTheWholeFile() {
        #expect(ByteRange.parse(nil, size: 10) == .full)
    }
}

/// Random headers never give a range outside the file, and well-formed ones give exactly the bytes asked for.
struct ByteRangeRandomTests {
    @Test func randomHeadersStayInsideTheFile() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("bytes=-0123456789, \t;x")
        for _ in 0..<5000 {
            let size = Int.random(in: 0...5000, using: &generator)
            let length = Int.random(in: 0...24, using: &generator)
            let header = String((0..<length).map { _ in alphabet.randomElement(using: &generator) ?? "0" })
            if case .partial(let range) = ByteRange.parse(header, size: size) {
                #expect(range.lowerBound >= 0 && range.upperBound < size && !range.isEmpty, "\(header) \(size)")
            }
        }
    }

    @Test func wellFormedRangesGiveTheRequestedBytes() {
        for _ in 0..<2000 {
            let size = Int.random(in: 1...100_000)
            let first = Int.random(in: 0..<size)
            let last = Int.random(in: first..<(size + 50))
            #expect(ByteRange.parse("bytes=\(first)-\(last)", size: size) == .partial(first...min(last, size - 1)))
            let count = Int.random(in: 1...(size + 10))
            #expect(ByteRange.parse("bytes=-\(count)", size: size) == .partial(max(0, size - count)...(size - 1)))
        }
    }
}
