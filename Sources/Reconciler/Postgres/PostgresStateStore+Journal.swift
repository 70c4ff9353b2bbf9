import Foundation
import PostgresNIO
import RackswarmCore
import ReconcilerModel
import ReconcilerStore

/// The journal: planned, started, finished, failed; each transition checked in the statement that makes it, and,
/// for a shard, fenced by the rack's lease.
extension PostgresStateStore {
    static let journalColumns = """
        id, commit_sha, node, rack, wave, kind, destructive, detail, service, state, error, planned_at, started_at,
        finished_at
        """

    static func journalEntry(_ row: PostgresRow) throws -> JournalEntry {
        let (id, commit, node, rack, wave, kindText, destructive, detail, service, stateText, error, planned,
             started, finished) = try row.decode(
                (Int64, String?, String, String, Int, String, Bool, String, String?, String, String?, Double,
                 Double?, Double?).self)
        guard let kind = PlannedAction.Kind(rawValue: kindText), let state = JournalEntry.State(rawValue: stateText)
        else { throw StateStoreError(.unreadable, "journal row with kind '\(kindText)' state '\(stateText)'") }
        let action = PlannedAction(node: node, rack: rack, wave: wave, kind: kind, destructive: destructive,
                                   detail: detail, service: service)
        return JournalEntry(id: id, commit: commit, action: action, state: state, error: error,
                            plannedAt: Date(timeIntervalSince1970: planned),
                            startedAt: started.map(Date.init(timeIntervalSince1970:)),
                            finishedAt: finished.map(Date.init(timeIntervalSince1970:)))
    }

    /// Journals the actions with one statement (arrays unnested in order, so ids follow the actions). A shard
    /// journals only on racks it holds: the lease rows are locked (`FOR SHARE`) in the same transaction, so no
    /// other reconciler can take one of them before the entries are committed.
    public func journalPlanned(_ actions: [PlannedAction], commit: String?, at time: Date) async throws -> [Int64] {
        guard !actions.isEmpty else { return [] }
        let racks = Array(Set(actions.map(\.rack))).sorted()
        let ids: [Int64] = try await transaction { [self] connection in
            if let shard {
                let held = try await connection.query("""
                    SELECT rack FROM rack_lease WHERE rack = ANY(\(racks)) AND holder = \(shard)
                      AND expires_at > \(unescaped: Self.serverNow) FOR SHARE
                    """, logger: self.logger).collect().map { try $0.decode(String.self) }
                let missing = Set(racks).subtracting(held)
                guard missing.isEmpty else {
                    throw StateStoreError(.leaseLost, "\(shard) does not hold rack(s) "
                                          + missing.sorted().joined(separator: ", "))
                }
            }
            let rows = try await connection.query("""
                INSERT INTO journal (commit_sha, node, rack, wave, kind, destructive, detail, service, state,
                                     planned_at)
                SELECT \(commit), a.node, a.rack, a.wave, a.kind, a.destructive, a.detail, NULLIF(a.service, ''),
                       'planned', \(time.timeIntervalSince1970)
                FROM unnest(\(actions.map(\.node)), \(actions.map(\.rack)), \(actions.map(\.wave)),
                            \(actions.map(\.kind.rawValue)), \(actions.map(\.destructive)), \(actions.map(\.detail)),
                            \(actions.map { $0.service ?? "" }))
                     WITH ORDINALITY AS a(node, rack, wave, kind, destructive, detail, service, position)
                ORDER BY a.position
                RETURNING id
                """, logger: self.logger).collect()
            return try rows.map { try $0.decode(Int64.self) }
        }
        return ids.sorted()
    }

    /// The server's clock in seconds: leases are measured on one clock, whoever's machine drifts.
    static let serverNow = "date_part('epoch', clock_timestamp())"

    /// One checked transition in one statement. For a shard, the statement also requires the rack's lease to be
    /// held by this shard and unexpired (locked `FOR SHARE` until the write commits); an action that already
    /// started finishes only under the token it started with, and a start records the token. Failing needs the
    /// lease only: the holder that took a rack over closes the entries its previous holder left started.
    public func transition(_ id: Int64, from: [String], to: String, column: String, time: Date, error: String?)
        async throws
    {
        let seconds = time.timeIntervalSince1970
        let updated: [PostgresRow]
        if let shard {
            updated = try await rows("""
                WITH lease AS (
                    SELECT l.token FROM rack_lease l JOIN journal j ON j.rack = l.rack
                    WHERE j.id = \(id) AND l.holder = \(shard) AND l.expires_at > \(unescaped: Self.serverNow)
                      AND (j.lease_token IS NULL OR j.lease_token = l.token OR \(to) = 'failed')
                    FOR SHARE OF l
                )
                UPDATE journal SET state = \(to), \(unescaped: column) = \(seconds), error = \(error),
                    lease_token = lease.token, shard = \(shard)
                FROM lease WHERE journal.id = \(id) AND journal.state = ANY(\(from))
                RETURNING journal.id
                """)
        } else {
            updated = try await rows("""
                UPDATE journal SET state = \(to), \(unescaped: column) = \(seconds), error = \(error)
                WHERE id = \(id) AND state = ANY(\(from))
                RETURNING id
                """)
        }
        guard updated.isEmpty else { return }
        // Nothing changed: say why; a lease this shard lost comes first (the rack is not its to touch at all).
        guard let row = try await rows("""
            SELECT j.state, l.holder = \(shard ?? "") AND l.expires_at > \(unescaped: Self.serverNow)
                AND (j.lease_token IS NULL OR j.lease_token = l.token OR \(to) = 'failed')
            FROM journal j LEFT JOIN rack_lease l ON l.rack = j.rack WHERE j.id = \(id)
            """).first
        else { throw StateStoreError(.unknownJournalEntry, "no journal entry \(id)") }
        let (current, holds) = try row.decode((String, Bool?).self)
        if shard != nil && holds != true {
            throw StateStoreError(.leaseLost, "\(shard ?? "?") no longer holds the lease of journal entry \(id)'s "
                                  + "rack under the token it started with; it was not marked \(to)")
        }
        guard from.contains(current) else {
            throw StateStoreError(.invalidTransition, "journal entry \(id) is \(current); cannot become \(to)")
        }
        throw StateStoreError(.leaseLost, "journal entry \(id) was not marked \(to)")
    }

    public func unfinishedActions() async throws -> [JournalEntry] {
        try await rows("SELECT \(unescaped: Self.journalColumns) FROM journal WHERE state = 'started' ORDER BY id")
            .map(Self.journalEntry)
    }

    public func journal(node: String?) async throws -> [JournalEntry] {
        let rows = if let node {
            try await rows("SELECT \(unescaped: Self.journalColumns) FROM journal WHERE node = \(node) ORDER BY id")
        } else {
            try await rows("SELECT \(unescaped: Self.journalColumns) FROM journal ORDER BY id")
        }
        return try rows.map(Self.journalEntry)
    }

    public func latestJournalEntries() async throws -> [String: [JournalEntry]] {
        var entries: [String: [JournalEntry]] = [:]
        for row in try await rows("""
            SELECT \(unescaped: Self.journalColumns) FROM journal WHERE id IN (
                SELECT max(id) FROM journal GROUP BY node
                UNION SELECT max(id) FROM journal WHERE state = 'started' GROUP BY node)
            ORDER BY id
            """)
        {
            let entry = try Self.journalEntry(row)
            entries[entry.action.node, default: []].append(entry)
        }
        return entries
    }

    /// Which shard started each journal entry still started, by id: who was acting when it stopped.
    public func startedBy() async throws -> [Int64: String] {
        var shards: [Int64: String] = [:]
        for row in try await rows("SELECT id, shard FROM journal WHERE state = 'started' AND shard IS NOT NULL") {
            let (id, shard) = try row.decode((Int64, String).self)
            shards[id] = shard
        }
        return shards
    }

    /// Deletes journal entries planned before `cutoff` that have ended (finished or failed), keeping each node's
    /// newest `keep` entries whatever their age; answers how many went. Install samples before `cutoff` go too.
    /// The same rule as SQLite's; several reconcilers may prune at once (a deleted row is simply not deleted twice).
    @discardableResult
    public func pruneJournal(before cutoff: Date, keepingNewestPerNode keep: Int) async throws -> Int {
        let seconds = cutoff.timeIntervalSince1970
        let kept = max(0, keep)
        return try await transaction { [self] connection in
            let pruned = try await connection.query("""
                DELETE FROM journal
                WHERE planned_at < \(seconds) AND state IN ('finished', 'failed')
                  AND id NOT IN (
                    SELECT id FROM (
                      SELECT id, row_number() OVER (PARTITION BY node ORDER BY id DESC) AS newest FROM journal
                    ) AS ranked WHERE newest <= \(kept)
                  )
                RETURNING id
                """, logger: self.logger).collect().count
            try await connection.query("DELETE FROM install_sample WHERE at < \(seconds)", logger: self.logger)
            return pruned
        }
    }
}
