/// Who sent the blocks of each unverified piece, and which addresses are banned for bad data.
///
/// Keyed by host address, not peer id or connection: a liar that reconnects, or comes back with a new peer id,
/// keeps its record and its ban. A piece that fails with blocks from one address counts against that address; a
/// piece from several is fetched again from one peer to find the liar. Pure bookkeeping.
struct PeerBlame {
    /// The verdict on a piece that failed its hash check.
    struct Failure: Equatable {
        /// How many addresses sent blocks of it (0: the web seed).
        var sources: Int
        /// An address banned by this failure.
        var banned: String?
    }

    /// Bad pieces after which an address is banned.
    let maxBadPieces: Int
    private var contributors: [Int: Set<String>] = [:]
    private(set) var badPieces: [String: Int] = [:]
    private(set) var banned: Set<String> = []

    init(maxBadPieces: Int) {
        self.maxBadPieces = max(1, maxBadPieces)
    }

    func isBanned(_ host: String) -> Bool { banned.contains(host) }

    /// A block of `piece` came from `host`.
    mutating func contributed(_ piece: Int, by host: String) {
        contributors[piece, default: []].insert(host)
    }

    /// The piece passed: nobody is to blame.
    mutating func passed(_ piece: Int) { contributors[piece] = nil }

    /// The piece failed: blames a sole source, banning it at `maxBadPieces`.
    mutating func failed(_ piece: Int) -> Failure {
        let sources = contributors.removeValue(forKey: piece) ?? []
        guard sources.count == 1, let liar = sources.first else { return Failure(sources: sources.count) }
        let count = (badPieces[liar] ?? 0) + 1
        badPieces[liar] = count
        guard count >= maxBadPieces, banned.insert(liar).inserted else { return Failure(sources: 1) }
        return Failure(sources: 1, banned: liar)
    }
}
