// One drive of the service request frame parser, shared by the libFuzzer harness
// (Fuzz/Harnesses/ServiceFrameFuzz.swift) and the corpus replay test (Tests/PackagesTests links it).
import Drivers

/// Feeds `bytes` to the parser whole and then in two pieces, with the default limits and with tight ones (64-byte
/// frames, 8 fields, so short inputs reach the limit checks); nil when both give the same messages or errors and
/// every parsed message encodes back to a frame that parses to itself, else what went wrong.
func driveServiceFrame(_ bytes: [UInt8]) -> String? {
    var problem: String?
    func drain(_ chunks: [ArraySlice<UInt8>], tight: Bool) -> [String] {
        var parser = tight ? ServiceMessageParser(maximumFrameLength: 64, maximumFieldCount: 8) : ServiceMessageParser()
        var seen: [String] = []
        for chunk in chunks {
            parser.append(chunk)
            loop: while true {
                switch parser.next() {
                case .needMoreData:
                    break loop
                case .message(let message):
                    seen.append("\(message)")
                    if (try? ServiceMessageParser.parse(message.encoded).get()) != message {
                        problem = "a parsed message does not survive encoding: \(message)"
                    }
                case .error(let error):
                    seen.append("error \(error)")
                    return seen
                }
            }
        }
        return seen
    }
    let cut = bytes.count / 2
    for tight in [false, true]
    where drain([bytes[...]], tight: tight) != drain([bytes[..<cut], bytes[cut...]], tight: tight) {
        return "the parser's answer depends on how the bytes arrive\(tight ? " (tight limits)" : "")"
    }
    return problem
}
