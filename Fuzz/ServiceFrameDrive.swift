// One drive of the service request frame parser, shared by the libFuzzer harness (scripts/fuzz.sh compiles it with
// the parser's files, dropping the import) and the corpus replay test (Tests/PackagesTests links it).
import Drivers

/// Feeds `bytes` to the parser whole and then in two pieces; nil when both give the same messages or errors and every
/// parsed message encodes back to a frame that parses to itself, else what went wrong.
func driveServiceFrame(_ bytes: [UInt8]) -> String? {
    var problem: String?
    func drain(_ chunks: [ArraySlice<UInt8>]) -> [String] {
        var parser = ServiceMessageParser()
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
    if drain([bytes[...]]) != drain([bytes[..<cut], bytes[cut...]]) {
        return "the parser's answer depends on how the bytes arrive"
    }
    return problem
}
