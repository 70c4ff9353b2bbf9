import Reconciler
import Synchronization

/// What the console last read of `StateStore.nodeOverviews`, kept while the store's change token stays the same:
/// at 100,000 nodes the read is 100,000 records, up to 200,000 journal entries and 100,000 install reports, and
/// a page that refreshes on a quiet store would read them again for nothing. A store without a token (nil) is
/// read every time.
final class OverviewCache: Sendable {
    private struct Kept {
        var token: StoreChangeToken?
        var overviews: [String: NodeOverview] = [:]
        /// Reads of the store so far (what the tests count).
        var reads = 0
    }

    private let kept = Mutex(Kept())

    /// How many times the overviews were read from the store rather than kept.
    var reads: Int { kept.withLock { $0.reads } }

    /// The store's node overviews: those kept when its token has not moved since they were read, else read now.
    func overviews(of store: any StateStore) async throws -> [String: NodeOverview] {
        // The token is read first: a write between it and the read below makes the next token differ.
        let token = try await store.changeToken()
        if let token, let overviews = kept.withLock({ $0.token == token ? $0.overviews : nil }) { return overviews }
        let overviews = try await store.nodeOverviews()
        kept.withLock { kept in
            kept.reads += 1
            // Kept only with a token; a store without one is read every time.
            if let token { (kept.token, kept.overviews) = (token, overviews) }
        }
        return overviews
    }
}
