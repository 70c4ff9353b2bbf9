/// Which pieces to fetch from an HTTP web seed (BEP 19), from which URL, and when to give up on web seeds.
///
/// Pieces that no connected peer has go to a web seed, `parallel` at a time; after `maxFailures` failed fetches
/// (or a URL that does not parse) the fallback stops. Pure: the caller passes the orphan pieces and the randomness,
/// does the HTTP request and reports how it went.
struct WebSeedFallback {
    /// One fetch to start.
    struct Fetch: Equatable {
        var piece: Int
        var url: String
        var host: String
        var port: Int
        var path: String
    }

    let urls: [String]
    /// The file name appended to a URL that ends in `/`.
    let name: String
    let parallel: Int
    let maxFailures: Int
    private(set) var inFlight: Set<Int> = []
    private(set) var failures = 0

    init(urls: [String], name: String, parallel: Int = 2, maxFailures: Int = 5) {
        self.urls = urls
        self.name = name
        self.parallel = parallel
        self.maxFailures = maxFailures
    }

    /// Whether web seeds may still be asked.
    var isActive: Bool { !urls.isEmpty && failures < maxFailures }

    /// How many more fetches may start now.
    var room: Int { isActive ? max(0, parallel - inFlight.count) : 0 }

    /// Fetches to start for `orphans` (at most `room`), each from a URL picked at random.
    mutating func start(orphans: [Int], using generator: inout some RandomNumberGenerator) -> [Fetch] {
        var fetches: [Fetch] = []
        for piece in orphans.prefix(room) where !inFlight.contains(piece) {
            guard let base = urls.randomElement(using: &generator) else { break }
            let url = base.hasSuffix("/") ? base + URLQuery.percentEncodePath(name) : base
            guard let target = HTTPURL(url) else {
                failures = maxFailures
                break
            }
            inFlight.insert(piece)
            fetches.append(Fetch(piece: piece, url: url, host: target.host, port: target.port, path: target.path))
        }
        return fetches
    }

    /// A fetch ended: `ok` when the whole piece came back (its hash is checked separately).
    mutating func finished(_ piece: Int, ok: Bool) {
        inFlight.remove(piece)
        if !ok { failures += 1 }
    }

    /// A piece with no peer source failed its hash check: the web seed served bad data.
    mutating func servedBadPiece() { failures += 1 }
}
