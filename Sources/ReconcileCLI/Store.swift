import ArgumentParser
import CommandLineSupport
import Foundation
import RackswarmCore
import Reconciler

/// `reconcile store`: housekeeping of the state database.
struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up or prune the state database.",
        subcommands: [Backup.self, Prune.self])

    /// `reconcile store backup FILE`: an online copy, taken while a reconciler runs.
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the state database to FILE while the reconciler keeps running (SQLite online backup).")

        @Argument(help: "Where the copy goes (replaced whole once the copy is complete).")
        var file: String

        @Option(help: "State database.")
        var state: String = Settings.value("state", ".rackswarm/state.db")

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            guard let store = try SQLiteStateStore.openExisting(path: state) else {
                Terminal.standardError.write("error: no state database at \(state)\n")
                throw ExitCode.failure
            }
            try await store.backup(to: file)
            print("backed up \(state) to \(file)")
        }
    }

    /// `reconcile store prune`: the journal retention a looping reconciler applies each pass, by hand.
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete ended journal entries older than the retention, keeping each node's newest ones.",
            discussion: """
                The retention is --retention (or RACKSWARM_RETENTION, or retention: in reconciler.yaml), else the \
                site's store.retention (read from --repo like every site command).
                """)

        @Option(help: "State database.")
        var state: String = Settings.value("state", ".rackswarm/state.db")

        @Option(help: "Keep entries younger than this (e.g. 30d, 12h); default: the site's store.retention.")
        var retention: String?

        /// Journal entries each node keeps whatever their age (its recent history for `status NODE`).
        static let keptPerNode = 50

        @Option(help: "Entries per node always kept, however old.")
        var keep: Int = keptPerNode

        @OptionGroup(title: "Site (for its store.retention when --retention is not given)")
        var source: SourceOptions

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            if let retention = retention ?? Settings.value("retention"),
                durationSetting(retention).map({ $0 > .zero }) != true {
                throw ValidationError("--retention takes a duration like 30d or 12h")
            }
            guard keep >= 0 else { throw ValidationError("--keep must be 0 or more") }
        }

        /// The flag's (or setting's) retention, else the site's; exits 1 when neither names one.
        func resolvedRetention() throws -> (Duration, shown: String) {
            if let text = retention ?? Settings.value("retention"), let duration = durationSetting(text) {
                return (duration, text)
            }
            let site = try source.loadSite(refusal: "nothing was pruned").desired.site
            guard let duration = site.store.retention else {
                Terminal.standardError.write("""
                    error: no retention: the site sets no store.retention and --retention was not given; \
                    nothing was pruned

                    """)
                throw ExitCode.failure
            }
            return (duration, Quantity.describe(duration))
        }

        func run() async throws {
            // openExisting checks the file and its schema version, read-only; pruning then writes.
            let (retention, shown) = try resolvedRetention()
            guard try SQLiteStateStore.openExisting(path: state) != nil else {
                Terminal.standardError.write("error: no state database at \(state)\n")
                throw ExitCode.failure
            }
            let store = try SQLiteStateStore(path: state)
            let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
            let pruned = try await store.pruneJournal(before: cutoff, keepingNewestPerNode: keep)
            print("pruned \(pruned) journal entr\(pruned == 1 ? "y" : "ies") older than \(shown)")
        }
    }
}
