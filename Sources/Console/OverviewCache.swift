import Reconciler
import Synchronization

/// What the console last read of `StateStore.nodeOverviews`, kept while the store's change token stays the same:
/// at 100,000 nodes the read is 100,000 records, up to 200,000 journal entries and 100,000 install reports, and
/// a page that refreshes on a quiet store would read them again for nothing. When the token moves, a store with a
/// change feed answers only the nodes written since the kept read, which are patched in
/// (`StateStore.nodeOverviews(changedAfter:)`); a store without one is read whole. A store without a token (nil)
/// is read every time.
final class OverviewCache: Sendable {
    private struct Kept {
        var token: StoreChangeToken?
        /// The change feed's position of `overviews`; nil when the store keeps no feed.
        var position: Int64?
        var overviews: [String: NodeOverview] = [:]
        /// Reads of every node so far, and reads of the changed nodes only (what the tests count).
        var reads = 0
        var patches = 0
    }

    private let kept = Mutex(Kept())

    /// How many times every node's overview was read from the store rather than kept or patched.
    var reads: Int { kept.withLock { $0.reads } }
    /// How many times the kept overviews were patched with the nodes written since.
    var patches: Int { kept.withLock { $0.patches } }

    /// The store's node overviews: those kept when its token has not moved since they were read, else the kept
    /// ones patched with what the store's change feed says was written since, else read now.
    func overviews(of store: any StateStore) async throws -> [String: NodeOverview] {
        // The token is read first: a write between it and the read below makes the next token differ.
        guard let token = try await store.changeToken() else {
            kept.withLock { $0.reads += 1 }
            return try await store.nodeOverviews()
        }
        // Taken out to be patched in place (swapped, not copied: a copy left in would be copied whole at the first
        // change). A request meanwhile finds nothing kept and reads every node.
        var hit: [String: NodeOverview]?
        var position: Int64?
        var overviews: [String: NodeOverview] = [:]
        kept.withLock { kept in
            if kept.token == token {
                hit = kept.overviews
                return
            }
            swap(&overviews, &kept.overviews)
            (position, kept.position, kept.token) = (kept.position, nil, nil)
        }
        if let hit { return hit }
        var patched = false
        if let changes = try await store.nodeOverviews(changedAfter: position) {
            patched = position != nil && changes.changed != nil
            changes.apply(to: &overviews)
            position = changes.position
        } else {
            (position, overviews) = (nil, try await store.nodeOverviews())
        }
        kept.withLock { kept in
            if patched { kept.patches += 1 } else { kept.reads += 1 }
            (kept.token, kept.position, kept.overviews) = (token, position, overviews)
        }
        return overviews
    }
}
