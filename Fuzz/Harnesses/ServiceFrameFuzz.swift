// libFuzzer entry point for the service request frame parser; built by scripts/fuzz.sh.
// Property: any bytes, fed whole and then in two pieces, give the same messages or errors, never a trap, and a
// parsed message encodes back to a frame that parses to itself.

@testable import Drivers

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServiceFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    func drain(_ chunks: [ArraySlice<UInt8>]) -> [String] {
        var parser = ServiceMessageParser()
        var seen: [String] = []
        for chunk in chunks {
            parser.append(chunk)
            loop: while true {
                switch parser.next() {
                case .needMoreData: break loop
                case .message(let message):
                    seen.append("\(message)")
                    let again = ServiceMessageParser.parse(message.encoded)
                    precondition((try? again.get()) == message, "a parsed message does not survive encoding")
                case .error(let error):
                    seen.append("error \(error)")
                    break loop
                }
            }
            if seen.last?.hasPrefix("error") == true { break }
        }
        return seen
    }
    let whole = drain([bytes[...]])
    let cut = bytes.count / 2
    let split = drain([bytes[..<cut], bytes[cut...]])
    precondition(whole == split, "the parser's answer depends on how the bytes arrive")
}
