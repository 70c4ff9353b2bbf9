// One drive of the tracker's announce query and answer parsers and of its handler, shared by the libFuzzer harness
// (a SwiftPM target of scripts/fuzz.sh) and the corpus replay test (Tests/TorrentTests links it).
@testable import Torrent

/// Parses `bytes` as an announce query (accepted when it gives a request, whose port must be in range: the problem
/// otherwise) and as a bencoded answer (a response or a thrown error); never a trap.
func driveAnnounce(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    var result: (accepted: Bool, problem: String?) = (false, nil)
    if let request = AnnounceRequest(query: String(decoding: bytes, as: UTF8.self)) {
        result = (true, (0...65535).contains(request.port) ? nil : "port \(request.port) out of range")
        _ = request.query
    }
    _ = try? AnnounceResponse(bencoded: bytes)
    return result
}

/// The info-hash the fuzzed tracker serves (bytes 1 to 20, `%01%02…%14` in a query); any other is refused.
let fuzzedTrackerHash: [UInt8] = Array(1...20)
/// Where the fuzzed announces come from.
let fuzzedRemoteHosts = ["10.0.0.1", "10.0.0.2", "127.0.0.1", "::1", "fd00::7"]

/// Sends each line of `text` to one tracker (an announce query, or any path when it starts with `/`), from one of a
/// few addresses as time passes; the problem when an answer is not bencode, hands a peer its own address or a
/// loopback peer to a remote one, or an address holds more than its share of entries.
func driveTracker(_ bytes: [UInt8]) -> String? {
    let configuration = TrackerConfiguration(interval: 30, maxPeers: 8, allowedInfoHashes: [fuzzedTrackerHash],
                                             maxEntriesPerHost: 4)
    var tracker = Tracker(configuration: configuration)
    var generator = FuzzedSplitMix(state: UInt64(bytes.count))
    let text = String(decoding: bytes, as: UTF8.self)
    for (index, line) in text.split(separator: "\n").prefix(64).enumerated() {
        let host = fuzzedRemoteHosts[index % fuzzedRemoteHosts.count]
        let uri = line.hasPrefix("/") ? String(line) : "/announce?" + line
        // Forty seconds per line: peers that stop announcing expire (three intervals) within a few lines.
        let (status, body) = tracker.handle(uri: uri, remoteHost: host, now: Double(index) * 40, using: &generator)
        guard status == 200 || status == 404 else { return "status \(status)" }
        guard (try? BencodeDecoder.decode(body)) != nil else { return "an answer that is not bencode" }
        if uri.hasPrefix("/announce?"), let answer = try? AnnounceResponse(bencoded: body),
            let request = AnnounceRequest(query: String(uri.dropFirst("/announce?".count)))
        {
            if answer.peers.count > configuration.maxPeers { return "more peers than maxPeers" }
            if answer.peers.contains(PeerAddress(host: host, port: request.port)) { return "its own address" }
            if !Tracker.isLoopback(host), answer.peers.contains(where: { Tracker.isLoopback($0.host) }) {
                return "a loopback peer to a remote one"
            }
        }
        if tracker.peerCount > fuzzedRemoteHosts.count * configuration.maxEntriesPerHost { return "unbounded swarm" }
    }
    return nil
}

/// A small deterministic generator, so a crash replays exactly.
struct FuzzedSplitMix: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
