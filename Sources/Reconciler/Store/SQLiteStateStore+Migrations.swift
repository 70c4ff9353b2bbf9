import GRDB

/// The store's schema, one migration per version; a store opened by a newer rackswarm is migrated on open.
extension SQLiteStateStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: node status, meta, journal") { db in
            try db.create(table: "node_status") { t in
                t.primaryKey("name", .text)
                t.column("rack", .text)
                t.column("phase", .text).notNull()
                t.column("image", .text)
                t.column("services", .text).notNull()
                t.column("drifted", .text).notNull()
                t.column("last_error", .text)
                t.column("last_seen", .double).notNull()
            }
            try db.create(table: "meta") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
                t.column("updated_at", .double).notNull()
            }
            try db.create(table: "journal") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("commit_sha", .text)
                t.column("node", .text).notNull().indexed()
                t.column("rack", .text).notNull()
                t.column("wave", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("destructive", .boolean).notNull()
                t.column("detail", .text).notNull()
                t.column("state", .text).notNull().indexed()
                t.column("error", .text)
                t.column("planned_at", .double).notNull()
                t.column("started_at", .double)
                t.column("finished_at", .double)
            }
        }
        migrator.registerMigration("v2: journal service") { db in
            try db.alter(table: "journal") { t in t.add(column: "service", .text) }
        }
        migrator.registerMigration("v3: install progress") { db in
            try db.create(table: "install_progress") { t in
                t.primaryKey("node", .text)
                t.column("report", .text).notNull()
                t.column("updated_at", .double).notNull()
            }
        }
        migrator.registerMigration("v4: operator actions, rack suspensions, pass requests, install samples") { db in
            try db.create(table: "operator_action") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("actor", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("target", .text)
                t.column("remote", .text)
                t.column("at", .double).notNull()
            }
            try db.create(table: "rack_suspension") { t in
                t.primaryKey("rack", .text)
                t.column("actor", .text).notNull()
                t.column("since", .double).notNull()
            }
            try db.create(table: "pass_request") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("actor", .text).notNull()
                t.column("at", .double).notNull()
            }
            try db.create(table: "install_sample") { t in
                t.column("node", .text).notNull()
                t.column("image", .text).notNull()
                t.column("at", .double).notNull().indexed()
                t.column("downloaded", .integer).notNull()
                t.column("uploaded", .integer).notNull()
                t.column("from_seed", .integer).notNull()
            }
        }
        migrator.registerMigration("v5: remembered nodes") { db in
            try db.create(table: "remembered_node") { t in
                t.primaryKey("name", .text)
                t.column("spec", .text).notNull()
                t.column("updated_at", .double).notNull()
            }
        }
        migrator.registerMigration("v6: latest journal entries per node") { db in
            try createLatestJournalTable(db)
        }
        migrator.registerMigration("v7: hardware inventory") { db in
            try db.create(table: "hardware_inventory") { t in
                t.primaryKey("node", .text)
                t.column("inventory", .text).notNull()
                t.column("updated_at", .double).notNull()
            }
        }
        migrator.registerMigration("v8: node change feed") { db in
            try createNodeChangeFeed(db)
        }
        migrator.registerMigration("v9: which reconciler received each install report") { db in
            try db.alter(table: "install_progress") { t in t.add(column: "received_by", .text) }
        }
        return migrator
    }

    /// `journal_latest`: per node, its newest journal entry and its newest entry still `started` (what a status
    /// view reads), kept by triggers on every insert, state change and delete of `journal`, so a view of the
    /// whole site reads one row per node instead of grouping the whole journal. Filled from the journal an
    /// existing store already has.
    private static func createLatestJournalTable(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE journal_latest (
                node TEXT PRIMARY KEY NOT NULL,
                latest_id INTEGER NOT NULL,
                started_id INTEGER
            );
            INSERT INTO journal_latest (node, latest_id, started_id)
                SELECT node, max(id), max(CASE WHEN state = 'started' THEN id END) FROM journal GROUP BY node;
            CREATE TRIGGER journal_latest_insert AFTER INSERT ON journal BEGIN
                INSERT OR REPLACE INTO journal_latest (node, latest_id, started_id) VALUES (
                    NEW.node, NEW.id,
                    (SELECT max(id) FROM journal WHERE node = NEW.node AND state = 'started'));
            END;
            CREATE TRIGGER journal_latest_state AFTER UPDATE OF state ON journal
            WHEN OLD.state = 'started' OR NEW.state = 'started' BEGIN
                UPDATE journal_latest
                SET started_id = (SELECT max(id) FROM journal WHERE node = NEW.node AND state = 'started')
                WHERE node = NEW.node;
            END;
            CREATE TRIGGER journal_latest_delete AFTER DELETE ON journal
            WHEN OLD.state = 'started'
                OR OLD.id = (SELECT latest_id FROM journal_latest WHERE node = OLD.node) BEGIN
                DELETE FROM journal_latest
                WHERE node = OLD.node AND NOT EXISTS (SELECT 1 FROM journal WHERE node = OLD.node);
                UPDATE journal_latest
                SET latest_id = (SELECT max(id) FROM journal WHERE node = OLD.node),
                    started_id = (SELECT max(id) FROM journal WHERE node = OLD.node AND state = 'started')
                WHERE node = OLD.node;
            END;
            """)
    }

    /// `node_change`: per node, the position of the latest write to anything `nodeOverviews` reads of it (its
    /// status, its journal, its install report), kept by triggers, so whoever writes (this process, another one,
    /// a hand-run `sqlite3`) moves it. A view that kept the overviews at position P reads only the nodes written
    /// after P (`nodeOverviews(changedAfter:)`). `AUTOINCREMENT` keeps positions rising, never reused. A node has
    /// one row, at its latest position: the triggers delete it and insert it anew rather than `INSERT OR REPLACE`,
    /// which a writer's own `INSERT OR IGNORE` would turn into an ignore.
    private static func createNodeChangeFeed(_ db: Database) throws {
        var sql = """
            CREATE TABLE node_change (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                node TEXT NOT NULL UNIQUE
            );

            """
        for (table, key) in [("node_status", "name"), ("journal", "node"), ("install_progress", "node")] {
            let mark = { (row: String) in
                "DELETE FROM node_change WHERE node = \(row).\(key); "
                    + "INSERT INTO node_change (node) VALUES (\(row).\(key));"
            }
            sql += """
                CREATE TRIGGER node_change_\(table)_insert AFTER INSERT ON \(table) BEGIN \(mark("NEW")) END;
                CREATE TRIGGER node_change_\(table)_delete AFTER DELETE ON \(table) BEGIN \(mark("OLD")) END;
                CREATE TRIGGER node_change_\(table)_rename AFTER UPDATE OF \(key) ON \(table)
                WHEN OLD.\(key) IS NOT NEW.\(key) BEGIN \(mark("OLD")) END;
                CREATE TRIGGER node_change_\(table)_update AFTER UPDATE ON \(table) BEGIN \(mark("NEW")) END;

                """
        }
        try db.execute(sql: sql)
    }
}
