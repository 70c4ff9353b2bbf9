import ArgumentParser
import CommandLineSupport
import Foundation
import Reconciler
import ReconcilerPostgres

/// `reconcile store`: housekeeping of the state database.
struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Back up, prune or migrate the state database.",
        subcommands: [Backup.self, Prune.self, Migrate.self])

    /// The SQLite state database at `path`, opened read-only after checking its schema version; a missing one is
    /// `error: no state database at PATH` and exit status 1.
    static func existingSQLite(_ path: String) throws -> SQLiteStateStore {
        guard let store = try SQLiteStateStore.openExisting(path: path) else {
            Terminal.standardError.write("error: no state database at \(path)\n")
            throw ExitCode.failure
        }
        return store
    }

    /// `reconcile store backup FILE`: an online copy, taken while a reconciler runs.
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup",
            abstract: "Copy the state database to FILE while the reconciler keeps running (SQLite online backup).")

        @Argument(help: "Where the copy goes (replaced whole once the copy is complete).")
        var file: String

        @Option(help: "State database.")
        var state: String = Settings.value("state", ".rackswarm/state.db")

        @OptionGroup var output: OutputOptions

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            try await Store.existingSQLite(state).backup(to: file)
            try output.line("backed up \(state) to \(file)", ["state": state, "backup": file])
        }
    }

    /// `reconcile store prune`: the journal retention a looping reconciler applies each pass, by hand.
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Delete ended journal entries older than the retention, keeping each node's newest ones.",
            discussion: """
                The retention is --retention (or RACKSWARM_RETENTION, or retention: in reconciler.yaml), else the \
                site's store.retention (read from --repo like every site command).
                """)

        @Option(help: "State database.")
        var state: String = Settings.value("state", ".rackswarm/state.db")

        @Option(help: .duration("Keep entries younger than this (e.g. 30d, 12h); default: the site's store.retention."),
                transform: Quantity.durationFlag())
        var retention: Duration?

        /// Journal entries each node keeps whatever their age (its recent history for `status NODE`).
        static let keptPerNode = 50

        @Option(help: "Entries per node always kept, however old.")
        var keep: Int = keptPerNode

        @OptionGroup(title: "Site (for its store.retention when --retention is not given)")
        var source: SourceOptions

        @OptionGroup var output: OutputOptions

        @OptionGroup var logging: LoggingOptions

        mutating func validate() throws {
            guard keep >= 0 else { throw ValidationError("--keep must be 0 or more") }
            // The settings file's retention, read now so that a malformed one is reported before anything starts.
            retention = retention ?? Settings.duration("retention")
        }

        /// The flag's (or setting's) retention, else the site's; exits 1 when neither names one.
        func resolvedRetention() throws -> Duration {
            if let retention { return retention }
            guard let duration = try source.loadSite(refusal: "nothing was pruned").desired.site.store.retention else {
                Terminal.standardError.write("""
                    error: no retention: the site sets no store.retention and --retention was not given; \
                    nothing was pruned

                    """)
                throw ExitCode.failure
            }
            return duration
        }

        func run() async throws {
            let retention = try resolvedRetention()
            let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
            let pruned: Int
            if PostgresLocation.isPostgres(state) {
                // The shared journal: every reconciler's entries, pruned by the same rule.
                let store = try await PostgresStateStore.connect(try StateLocation.location(state),
                                                                 deadline: .seconds(3600))
                defer { store.close() }
                pruned = try await store.pruneJournal(before: cutoff, keepingNewestPerNode: keep)
            } else {
                // The check opens the file and its schema version read-only; pruning then writes.
                _ = try Store.existingSQLite(state)
                pruned = try await SQLiteStateStore(path: state).pruneJournal(before: cutoff,
                                                                               keepingNewestPerNode: keep)
            }
            let age = Quantity.describe(retention)
            try output.line("pruned \(pruned) journal entr\(pruned == 1 ? "y" : "ies") older than \(age)",
                            Pruned(pruned: pruned, retention: age, keptPerNode: keep))
        }
    }

    /// What `store migrate -o json` prints.
    struct Migrated: Encodable {
        var nodes: Int
        var journalEntries: Int
        var from: String
        var to: String
    }

    /// What `store prune -o json` prints.
    struct Pruned: Encodable {
        var pruned: Int
        var retention: String
        var keptPerNode: Int
    }

    /// `reconcile store migrate --from state.db --to postgres://…`: one reconciler's SQLite state into a shared
    /// PostgreSQL database, for the move to several reconcilers.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy a SQLite state database into an empty PostgreSQL one (all of it, or nothing).")

        @Option(help: "The SQLite state database to copy (read only).")
        var from: String

        @Option(help: "postgres://USER@HOST:PORT/DB?password=env:NAME (or file:PATH); its database must be empty.")
        var to: String

        @OptionGroup var output: OutputOptions

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            guard PostgresLocation.isPostgres(to) else { throw ValidationError("--to takes a postgres:// URL") }
            _ = try StateLocation.location(to)
        }

        func run() async throws {
            let source = try Store.existingSQLite(from)
            let snapshot = try await StoreSnapshot.read(from: source)
            let target = try await PostgresStateStore.connect(try StateLocation.location(to), deadline: .seconds(3600))
            defer { target.close() }
            do {
                try await target.load(snapshot)
            } catch let error as StateStoreError {
                Terminal.standardError.write("error: \(error.description)\n")
                throw ExitCode.failure
            }
            let destination = "\(try StateLocation.location(to))"
            try output.line("copied \(snapshot.nodes.count) nodes and \(snapshot.journal.count) journal entries "
                            + "from \(from) to \(destination)",
                            Migrated(nodes: snapshot.nodes.count, journalEntries: snapshot.journal.count, from: from,
                                     to: destination))
        }
    }
}
