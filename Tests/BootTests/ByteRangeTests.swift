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
    ])
    func parses(header: String, size: Int, expected: ByteRange) {
        #expect(ByteRange.parse(header, size: size) == expected)
    }

    @Test func noHeaderIsTheWholeFile() {
        #expect(ByteRange.parse(nil, size: 10) == .full)
    }
}
