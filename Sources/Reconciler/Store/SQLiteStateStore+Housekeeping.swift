import Foundation
import GRDB

extension SQLiteStateStore {
    /// Copies the whole database to `path` while passes go on (SQLite's online backup API, through GRDB).
    ///
    /// The copy is written next to `path` and renamed into place once complete, so `path` is never a half copy.
    public func backup(to path: String) async throws {
        let partial = path + ".partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            let destination = try DatabaseQueue(path: partial)
            try database.backup(to: destination)
            try destination.close()
            guard rename(partial, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// Deletes journal entries planned before `cutoff` that have ended (finished or failed), keeping each node's
    /// newest `keep` entries whatever their age; answers how many went. Install samples before `cutoff` go too.
    @discardableResult
    public func pruneJournal(before cutoff: Date, keepingNewestPerNode keep: Int) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: """
                DELETE FROM journal
                WHERE planned_at < ? AND state IN ('finished', 'failed')
                  AND id NOT IN (
                    SELECT id FROM (
                      SELECT id, ROW_NUMBER() OVER (PARTITION BY node ORDER BY id DESC) AS newest FROM journal
                    ) WHERE newest <= ?
                  )
                """, arguments: [cutoff.timeIntervalSince1970, max(0, keep)])
            let pruned = db.changesCount
            try db.execute(sql: "DELETE FROM install_sample WHERE at < ?", arguments: [cutoff.timeIntervalSince1970])
            return pruned
        }
    }
}
