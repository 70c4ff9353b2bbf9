import Drivers
import Foundation
import Testing

/// Every input libFuzzer kept for the service frame parser (Fuzz/corpus/service-frame, grown by scripts/fuzz.sh),
/// replayed on every test run: whole and split in two it gives the same events, and parsed messages re-encode.
struct ServiceFrameCorpusTests {
    static func events(_ chunks: [ArraySlice<UInt8>]) -> [String] {
        var parser = ServiceMessageParser()
        var seen: [String] = []
        for chunk in chunks {
            parser.append(chunk)
            loop: while true {
                switch parser.next() {
                case .needMoreData: break loop
                case .message(let message):
                    seen.append("\(message)")
                    #expect((try? ServiceMessageParser.parse(message.encoded).get()) == message)
                case .error(let error):
                    seen.append("error \(error)")
                    return seen
                }
            }
        }
        return seen
    }

    @Test func corpusReplays() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/service-frame")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count >= 10)
        for file in files {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
            let cut = bytes.count / 2
            #expect(Self.events([bytes[...]]) == Self.events([bytes[..<cut], bytes[cut...]]), "\(file)")
        }
    }
}
