import Foundation
import PostgresNIO
import ReconcilerStore

/// The shared store's schema, one migration per version, applied in order under an advisory lock: several
/// reconcilers started at once migrate it once.
extension PostgresStateStore {
    /// The migrations, oldest first; the schema version is their count.
    static let migrations: [(name: String, sql: String)] = [
        ("v1: the SQLite store's tables (v1-v5)", """
            CREATE TABLE node_status (
                name text PRIMARY KEY, rack text, phase text NOT NULL, image text, services text NOT NULL,
                drifted text NOT NULL, last_error text, last_seen double precision NOT NULL);
            CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL, updated_at double precision NOT NULL);
            CREATE TABLE journal (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, commit_sha text, node text NOT NULL,
                rack text NOT NULL, wave bigint NOT NULL, kind text NOT NULL, destructive boolean NOT NULL,
                detail text NOT NULL, service text, state text NOT NULL, error text,
                planned_at double precision NOT NULL, started_at double precision, finished_at double precision);
            CREATE INDEX journal_node ON journal (node);
            CREATE INDEX journal_state ON journal (state);
            CREATE TABLE install_progress (
                node text PRIMARY KEY, report text NOT NULL, updated_at double precision NOT NULL);
            CREATE TABLE operator_action (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, actor text NOT NULL, kind text NOT NULL,
                target text, remote text, at double precision NOT NULL);
            CREATE TABLE rack_suspension (rack text PRIMARY KEY, actor text NOT NULL, since double precision NOT NULL);
            CREATE TABLE pass_request (
                id integer PRIMARY KEY CHECK (id = 1), actor text NOT NULL, at double precision NOT NULL);
            CREATE TABLE install_sample (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, node text NOT NULL, image text NOT NULL,
                at double precision NOT NULL, downloaded bigint NOT NULL, uploaded bigint NOT NULL,
                from_seed bigint NOT NULL);
            CREATE INDEX install_sample_at ON install_sample (at);
            CREATE TABLE remembered_node (
                name text PRIMARY KEY, spec text NOT NULL, updated_at double precision NOT NULL);
            """),
        ("v2: rack leases with fencing tokens, reconciler membership", """
            CREATE TABLE rack_lease (
                rack text PRIMARY KEY, holder text, token bigint NOT NULL, expires_at double precision NOT NULL,
                acquired_at double precision NOT NULL);
            CREATE TABLE reconciler (
                shard text PRIMARY KEY, address text, started_at double precision NOT NULL,
                expires_at double precision NOT NULL);
            ALTER TABLE journal ADD COLUMN lease_token bigint, ADD COLUMN shard text;
            """),
        ("v3: hardware inventory (SQLite v7)", """
            CREATE TABLE hardware_inventory (
                node text PRIMARY KEY, inventory text NOT NULL, updated_at double precision NOT NULL);
            """),
        ("v4: which reconciler received each install report (SQLite v9)", """
            ALTER TABLE install_progress ADD COLUMN received_by text;
            """),
    ]

    /// The schema version this build writes.
    public static var schemaVersion: Int { migrations.count }

    /// Applies the migrations this database lacks, in one transaction under an advisory lock; refuses a schema
    /// with versions this build does not know.
    func migrate() async throws {
        let location = location
        try await transaction { [self] connection in
            // A fixed key: every rackswarm migrating this database waits for the one migrating it now.
            try await connection.query("SELECT pg_advisory_xact_lock(72616301)", logger: self.logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS rackswarm_migration (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)
                """, logger: self.logger)
            let applied = try await connection.query("SELECT version FROM rackswarm_migration", logger: self.logger)
                .collect().map { try $0.decode(Int.self) }
            let newest = applied.max() ?? 0
            guard newest <= Self.schemaVersion else {
                throw StateStoreVersionError(
                    path: location.description, found: newest, expected: Self.schemaVersion,
                    advice: "it was written by a newer rackswarm; use that version, nothing was changed")
            }
            for (index, migration) in Self.migrations.enumerated() where index + 1 > newest {
                // Several statements in one simple query: no parameters, so postgres-nio's text path is fine.
                for statement in migration.sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: self.logger)
                }
                try await connection.query("""
                    INSERT INTO rackswarm_migration (version, name, applied_at)
                    VALUES (\(index + 1), \(migration.name), \(Date().timeIntervalSince1970))
                    """, logger: self.logger)
            }
        }
    }
}
