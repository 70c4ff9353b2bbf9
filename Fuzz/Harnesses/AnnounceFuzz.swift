// libFuzzer entry point for the tracker: its announce query parser, its handler and its bencoded answer; built by
// scripts/fuzz.sh.
// Property: any query gives a request or nil, never a trap, with its numbers in range; any answer body gives a
// response or a thrown error. Each line is also an announce (or, starting with `/`, any request path) to one
// tracker, from one of a few addresses as time passes: every answer is valid bencode, no answer hands a peer its
// own address or a loopback peer to a remote one, and no address holds more than its share of entries.

@testable import Torrent

/// libFuzzer's entry point (its `main` comes with `--sanitize fuzzer`): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnounce(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// The info-hash the fuzzed tracker serves (bytes 1 to 20, `%01%02…%14` in a query); any other is refused.
let servedHash: [UInt8] = Array(1...20)
/// Where the fuzzed announces come from.
let remoteHosts = ["10.0.0.1", "10.0.0.2", "127.0.0.1", "::1", "fd00::7"]

func drive(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let request = AnnounceRequest(query: text) {
        precondition((0...65535).contains(request.port), "port \(request.port) out of range")
        _ = request.query
    }
    _ = try? AnnounceResponse(bencoded: bytes)
    driveTracker(text)
}

/// Sends each line of `text` to one tracker and checks every answer.
func driveTracker(_ text: String) {
    let configuration = TrackerConfiguration(interval: 30, maxPeers: 8, allowedInfoHashes: [servedHash],
                                             maxEntriesPerHost: 4)
    var tracker = Tracker(configuration: configuration)
    var generator = SplitMix(seed: UInt64(text.utf8.count))
    for (index, line) in text.split(separator: "\n").prefix(64).enumerated() {
        let host = remoteHosts[index % remoteHosts.count]
        let uri = line.hasPrefix("/") ? String(line) : "/announce?" + line
        // Forty seconds per line: peers that stop announcing expire (three intervals) within a few lines.
        let (status, body) = tracker.handle(uri: uri, remoteHost: host, now: Double(index) * 40, using: &generator)
        precondition(status == 200 || status == 404, "status \(status)")
        precondition((try? BencodeDecoder.decode(body)) != nil, "an answer that is not bencode")
        if uri.hasPrefix("/announce?"), let answer = try? AnnounceResponse(bencoded: body),
            let request = AnnounceRequest(query: String(uri.dropFirst("/announce?".count)))
        {
            precondition(answer.peers.count <= configuration.maxPeers, "more peers than maxPeers")
            precondition(!answer.peers.contains(PeerAddress(host: host, port: request.port)), "its own address")
            if !Tracker.isLoopback(host) {
                precondition(!answer.peers.contains { Tracker.isLoopback($0.host) }, "a loopback peer to a remote")
            }
        }
        precondition(tracker.peerCount <= remoteHosts.count * configuration.maxEntriesPerHost, "unbounded swarm")
    }
}

/// A small deterministic generator, so a crash replays exactly.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
