import MemberwiseInit

/// How the tracker answers.
@PublicMemberwiseInit
public struct TrackerConfiguration: Sendable {
    /// Seconds clients wait between announces.
    public var interval: Int = 30
    /// Most peers returned per announce.
    public var maxPeers: Int = 50
    /// How many peers from other racks follow the same-rack ones.
    public var otherRackPeers: Int = 3
    /// Each node's rack by IP address (from the desired state); an announce's `rack=` key overrides it.
    public var racksByHost: [String: String] = [:]
    /// Seeds that every answer includes (the reconciler's own seed), whatever their rack.
    public var pinnedSeeds: [PeerAddress] = []
    /// The only info-hashes tracked (the reconciler's images, or a standalone seed's own torrents); any other gets
    /// a failure answer and leaves no state. Nil is an open tracker: for tests and labs that build their torrents
    /// after the tracker starts, never for a command.
    public var allowedInfoHashes: Set<[UInt8]>?
    /// Most entries one address may hold in one swarm (one per port).
    public var maxEntriesPerHost: Int = 16
    /// Rack uplinks are the scarce link (oversubscribed): a peer in a known rack is told only of the seeds on the
    /// core (pinned, or in no rack) and of its own rack, and the answer carries `keep in rack`, so that each piece
    /// crosses an uplink about once (into the rack, from the core) and never between racks. Off, other racks fill
    /// the answer's room, which is faster when the seed's upload, not the uplinks, is the bottleneck.
    public var keepInRack: Bool = false
}

/// A rack-aware BitTorrent tracker (BEP 3 announce and scrape, BEP 23 compact peers), independent of transport.
///
/// Pure: the caller passes the clock and the client's address; a thin HTTP adapter serves it.
public struct Tracker: Sendable {
    public var configuration: TrackerConfiguration {
        // Only when the racks changed: `allow` sets the configuration at every pass.
        didSet {
            if configuration.racksByHost != oldValue.racksByHost {
                rackHosts = Self.rackHosts(configuration.racksByHost)
            }
        }
    }
    /// Per rack, its IPv4 hosts in `racksByHost` as 4 bytes each (the answers' `rack hosts`).
    private var rackHosts: [String: [UInt8]]
    private var swarms: [[UInt8]: TrackerSwarm] = [:]
    /// When the last sweep of expired peers ran.
    private var sweptAt = -Double.infinity

    /// Creates an empty tracker.
    public init(configuration: TrackerConfiguration = TrackerConfiguration()) {
        self.configuration = configuration
        rackHosts = Self.rackHosts(configuration.racksByHost)
    }

    static func rackHosts(_ racksByHost: [String: String]) -> [String: [UInt8]] {
        var hosts: [String: [UInt8]] = [:]
        for (host, rack) in racksByHost.sorted(by: { $0.key < $1.key }) {
            if let bytes = ipv4Bytes(host) { hosts[rack, default: []] += bytes }
        }
        return hosts
    }

    /// Answers an HTTP request path (`/announce?…` or `/scrape?…`) with a status and a bencoded body.
    public mutating func handle(
        uri: String,
        remoteHost: String,
        now: Double,
        using generator: inout some RandomNumberGenerator
    ) -> (status: Int, body: [UInt8]) {
        let path = uri.prefix { $0 != "?" }
        let query = String(uri.dropFirst(path.count + 1))
        switch path {
        case "/announce":
            guard let request = AnnounceRequest(query: query) else { return (200, Self.failure("invalid announce")) }
            return (200, announce(request, remoteHost: remoteHost, now: now, using: &generator))
        case "/scrape":
            let hashes = query.split(separator: "&").compactMap { part -> [UInt8]? in
                guard part.hasPrefix("info_hash=") else { return nil }
                return URLQuery.percentDecode(part.dropFirst("info_hash=".count))
            }
            return (200, scrape(hashes))
        default:
            return (404, Self.failure("not found"))
        }
    }

    /// A bencoded failure answer.
    public static func failure(_ reason: String) -> [UInt8] {
        BencodeEncoder.encode(.dict(["failure reason": .string(reason)]))
    }

    /// Records an announce and returns the bencoded answer.
    public mutating func announce(
        _ request: AnnounceRequest,
        remoteHost: String,
        now: Double,
        using generator: inout some RandomNumberGenerator
    ) -> [UInt8] {
        if let allowed = configuration.allowedInfoHashes, !allowed.contains(request.infoHash) {
            return Self.failure("info-hash \(Self.hex(request.infoHash)) is not one this tracker serves")
        }
        // The address comes from the connection, never from `ip=`: a client cannot aim others at a third party.
        let host = remoteHost
        guard request.port > 0 else { return Self.failure("port 0 is not a port peers can connect to") }
        sweep(now: now)
        // Taken out while it changes, so that the dictionary does not keep a second reference (a copy per announce).
        var swarm = swarms.removeValue(forKey: request.infoHash) ?? TrackerSwarm()
        let endpoint = "\(host):\(request.port)"
        let rack = request.rack ?? configuration.racksByHost[host]
        if request.event == .stopped {
            swarm.remove(endpoint)
        } else {
            if swarm.peers[endpoint] == nil, swarm.entries(of: host) >= configuration.maxEntriesPerHost {
                swarms[request.infoHash] = swarm.isEmpty && swarm.completed == 0 ? nil : swarm
                return Self.failure("too many peers from \(host) (at most \(configuration.maxEntriesPerHost))")
            }
            if request.event == .completed, swarm.peers[endpoint]?.left ?? 1 > 0 { swarm.completed += 1 }
            swarm.upsert(
                endpoint,
                TrackerSwarm.Entry(
                    peerID: request.peerID, host: host, port: request.port, left: request.left, rack: rack,
                    lastSeen: now))
        }
        let wanted = request.event == .stopped ? 0 : max(0, min(request.numWant, configuration.maxPeers))
        var chosen = choosePeers(swarm, for: endpoint, rack: rack, count: wanted, using: &generator)
        // A peer that announced from loopback is only reachable from the same host.
        if !Self.isLoopback(host) { chosen.removeAll { Self.isLoopback($0.host) } }
        let seeders = swarm.seeders
        var answer: [String: BencodeValue] = [
            "interval": .integer(Int64(configuration.interval)),
            "min interval": .integer(Int64(max(1, configuration.interval / 2))),
            "complete": .integer(Int64(seeders)),
            "incomplete": .integer(Int64(swarm.peers.count - seeders)),
        ]
        swarms[request.infoHash] = swarm.isEmpty && swarm.completed == 0 ? nil : swarm
        if request.compact {
            let (compact, compact6) = Self.compact(chosen)
            answer["peers"] = .bytes(compact)
            if !compact6.isEmpty { answer["peers6"] = .bytes(compact6) }
        } else {
            answer["peers"] = .list(
                chosen.map { peer in
                    var entry: [String: BencodeValue] = ["ip": .string(peer.host), "port": .integer(Int64(peer.port))]
                    if let id = peer.peerID { entry["peer id"] = .bytes(id) }
                    return .dict(entry)
                })
        }
        // Our extension for our own clients (others ignore unknown keys): which of the peers share the requester's
        // rack, every host configured in it (so that an early announcer knows its rack before it has announced),
        // and whether to keep the traffic in it (see `TrackerConfiguration.keepInRack`).
        if rack != nil {
            let (rackPeers, rackPeers6) = Self.compact(chosen.filter(\.sameRack))
            answer["rack peers"] = .bytes(rackPeers)
            if !rackPeers6.isEmpty { answer["rack peers6"] = .bytes(rackPeers6) }
            if configuration.keepInRack { answer["keep in rack"] = .integer(1) }
            if let rack, let hosts = rackHosts[rack] { answer["rack hosts"] = .bytes(hosts) }
        }
        return BencodeEncoder.encode(.dict(answer))
    }

    /// BEP 23 compact strings (IPv4, IPv6) of `peers`.
    static func compact(_ peers: [Choice]) -> (ipv4: [UInt8], ipv6: [UInt8]) {
        var compact: [UInt8] = []
        var compact6: [UInt8] = []
        for peer in peers {
            if let ipv4 = ipv4Bytes(peer.host) {
                compact += ipv4 + [UInt8(peer.port >> 8 & 0xff), UInt8(peer.port & 0xff)]
            } else if let ipv6 = ipv6Bytes(peer.host) {
                compact6 += ipv6 + [UInt8(peer.port >> 8 & 0xff), UInt8(peer.port & 0xff)]
            }
        }
        return (compact, compact6)
    }

    /// Forgets peers that stopped announcing (three intervals without one) in every swarm, at most once a second.
    mutating func sweep(now: Double) {
        guard now - sweptAt >= 1 else { return }
        sweptAt = now
        let expiry = now - Double(configuration.interval * 3)
        for hash in Array(swarms.keys) {
            guard var swarm = swarms.removeValue(forKey: hash) else { continue }
            _ = swarm.expire(before: expiry)
            swarms[hash] = swarm
        }
    }

    /// Tracks only `infoHashes` from now on; swarms of others are dropped.
    public mutating func allow(_ infoHashes: Set<[UInt8]>) {
        configuration.allowedInfoHashes = infoHashes
        swarms = swarms.filter { infoHashes.contains($0.key) }
    }

    /// How many peers the tracker holds across its swarms.
    public var peerCount: Int { swarms.values.reduce(0) { $0 + $1.peers.count } }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// A chosen peer.
    struct Choice: Equatable {
        var host: String
        var port: Int
        var peerID: [UInt8]?
        /// In the requester's (known) rack.
        var sameRack = false
    }

    /// Pinned seeds, then same-rack peers (seeders first), then a few from other racks, then any others; each
    /// group in random order; with `keepInRack`, a requester in a known rack gets the pinned seeds, the seeds in
    /// no rack and its own rack only. Costs O(count): peers are drawn from the swarm's indices, never listed.
    func choosePeers(
        _ swarm: TrackerSwarm,
        for requester: String,
        rack: String?,
        count: Int,
        using generator: inout some RandomNumberGenerator
    ) -> [Choice] {
        var chosen: [Choice] = []
        var seen: Set<String> = [requester]
        func add(_ choice: Choice) {
            guard chosen.count < count, seen.insert("\(choice.host):\(choice.port)").inserted else { return }
            chosen.append(choice)
        }
        func add(_ endpoint: String) {
            guard let peer = swarm.peers[endpoint] else { return }
            let same = rack != nil && peer.rack == rack
            add(Choice(host: peer.host, port: peer.port, peerID: peer.peerID, sameRack: same))
        }
        /// The next of `group` that is not the requester (who is in its own rack's pools).
        func next(_ group: inout TrackerSwarm.SeedsFirst) -> String? {
            while let endpoint = group.next(using: &generator) {
                if endpoint != requester { return endpoint }
            }
            return nil
        }
        for seed in configuration.pinnedSeeds { add(Choice(host: seed.host, port: seed.port, peerID: nil)) }
        guard count > chosen.count else { return chosen }
        let listed = swarm.peers[requester] != nil
        var sameRack = swarm.sameRack(rack)
        var otherRacks = swarm.otherRacks(rack)
        if configuration.keepInRack, rack != nil {
            // Seeds outside every rack sit on the core like the pinned ones: the way in for pieces.
            var coreSeeds = swarm.draw(rack: nil, seed: true)
            while chosen.count < count, let endpoint = coreSeeds.next(using: &generator) { add(endpoint) }
            while chosen.count < count, let endpoint = next(&sameRack) { add(endpoint) }
            return chosen
        }
        let otherCount = otherRacks.count - (listed && rack == nil ? 1 : 0)
        let sameRackRoom = max(0, count - chosen.count - min(configuration.otherRackPeers, otherCount))
        for _ in 0..<sameRackRoom {
            guard let endpoint = next(&sameRack) else { break }
            add(endpoint)
        }
        for _ in 0..<configuration.otherRackPeers {
            guard let endpoint = next(&otherRacks) else { break }
            add(endpoint)
        }
        // Room left: more of the same rack first, then anyone.
        while chosen.count < count, let endpoint = next(&sameRack) { add(endpoint) }
        while chosen.count < count, let endpoint = next(&otherRacks) { add(endpoint) }
        return chosen
    }

    /// The bencoded scrape answer for the given info-hashes (all tracked ones if empty).
    public func scrape(_ hashes: [[UInt8]]) -> [UInt8] {
        var files: [[UInt8]: BencodeValue] = [:]
        for hash in hashes.isEmpty ? Array(swarms.keys) : hashes {
            guard let swarm = swarms[hash] else { continue }
            let seeders = swarm.seeders
            files[hash] = .dict([
                "complete": .integer(Int64(seeders)),
                "downloaded": .integer(Int64(swarm.completed)),
                "incomplete": .integer(Int64(swarm.peers.count - seeders)),
            ])
        }
        return BencodeEncoder.encode(.dict(["files": .dictionary(files)]))
    }

    static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "::1" || host == "localhost"
    }

    static func ipv4Bytes(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }

    static func ipv6Bytes(_ host: String) -> [UInt8]? {
        IPv6Text.parse(host)
    }
}

/// Parses textual IPv6 addresses without Foundation.
enum IPv6Text {
    static func parse(_ host: String) -> [UInt8]? {
        let halves = host.components(separatedByDoubleColon: ())
        guard let halves else { return nil }
        func groups(_ text: Substring) -> [UInt16]? {
            if text.isEmpty { return [] }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            let values = parts.compactMap { UInt16($0, radix: 16) }
            return values.count == parts.count ? values : nil
        }
        guard let head = groups(halves.0) else { return nil }
        var all = head
        if let tail = halves.1 {
            guard let tailGroups = groups(tail), head.count + tailGroups.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tailGroups.count) + tailGroups
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}

extension String {
    /// Splits at the first `::`; nil when there is more than one.
    fileprivate func components(separatedByDoubleColon _: Void) -> (Substring, Substring?)? {
        guard contains(":") else { return nil }
        guard let range = firstRange(of: "::") else { return (self[...], nil) }
        let tail = self[range.upperBound...]
        if tail.contains("::") { return nil }
        return (self[..<range.lowerBound], tail)
    }
}
