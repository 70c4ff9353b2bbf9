import Foundation
import Logging
import NIOCore
import PostgresNIO
import RackswarmCore
import ReconcilerModel
import ReconcilerStore

/// The shared state store: one PostgreSQL database that several reconcilers use at once, each acting on the racks
/// it holds a lease on (`RackLeases`).
///
/// Same rules as `SQLiteStateStore`: every write is one transaction, the journal's transitions are checked, an
/// operator action is audited in the transaction that makes it. Times are stored as seconds since 1970, as in
/// SQLite, so a row reads back the same from either store. When the store was opened for a shard, every journal
/// write also checks, in its own statement, that the shard still holds the rack's lease under the fencing token the
/// action started with; a write that fails that check changes nothing and throws `leaseLost`.
public final class PostgresStateStore: JournalTransitions {
    let client: PostgresClient
    let logger: Logger
    /// The reconciler this store writes for, when it holds racks by lease; nil for a client that only reads or
    /// audits (`reconcile status`, the console of a non-sharded run, `store migrate`).
    public let shard: String?
    public let location: PostgresLocation
    /// How long one statement or transaction may take, on the server (`statement_timeout`) and here: past it, the
    /// call throws `unavailable` rather than wait on a hung connection, and the reconciler stops acting.
    public let deadline: Duration
    private let runner: Task<Void, Never>

    private init(client: PostgresClient, runner: Task<Void, Never>, location: PostgresLocation, shard: String?,
                 deadline: Duration, logger: Logger) {
        self.client = client
        self.runner = runner
        self.location = location
        self.shard = shard
        self.deadline = deadline
        self.logger = logger
    }

    /// Connects to the server at `location`, reading the password from its reference, and migrates the schema
    /// (one reconciler at a time: the migration holds an advisory lock). A schema from a newer rackswarm is
    /// refused with both versions named.
    public static func connect(_ location: PostgresLocation, shard: String? = nil, maximumConnections: Int = 8,
                               deadline: Duration = .seconds(30),
                               logger: Logger = Logger(label: "rackswarm.postgres")) async throws -> PostgresStateStore
    {
        let password = try location.password?.resolve()
        let tls: PostgresClient.Configuration.TLS = switch location.tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: password,
            database: location.database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        let milliseconds = Int(deadline.seconds * 1000)
        configuration.options.additionalStartupParameters = [("statement_timeout", "\(milliseconds)")]
        try await probe(location, password: password, logger: logger)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        let store = PostgresStateStore(client: client, runner: runner, location: location, shard: shard,
                                       deadline: deadline, logger: logger)
        do {
            try await store.migrate()
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// One direct connection before the pool: a wrong password or an unreachable server is an error now (the pool
    /// would retry it quietly for ever). The error says what the server said, never the password.
    private static func probe(_ location: PostgresLocation, password: String?, logger: Logger) async throws {
        let tls: PostgresConnection.Configuration.TLS = switch location.tls {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw Self.translate(error)
        }
    }

    /// Closes every connection. The store cannot be used afterwards.
    public func close() { runner.cancel() }

    deinit { runner.cancel() }

    /// Runs `body` in one transaction; a server error becomes a `StateStoreError` that says what the server said.
    func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result)
        async throws -> Result
    {
        try await withDeadline {
            try await self.translatingErrors {
                try await self.client.withTransaction(logger: self.logger) { connection in try await body(connection) }
            }
        }
    }

    /// Runs one statement and collects its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withDeadline {
            try await self.translatingErrors { try await self.client.query(query, logger: self.logger).collect() }
        }
    }

    /// Runs `body`, but answers `unavailable` once `deadline` has passed without waiting for it: a connection that
    /// hangs (a stalled proxy, a partition with no reset) ends the call rather than the pass waiting on it for ever.
    /// The late body is cancelled; should its write land after all, the fencing token still refuses a stale one.
    func withDeadline<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let deadline = deadline
        let outcome = DeadlineOutcome<Result>()
        let work = Task {
            do {
                await outcome.settle(.success(try await body()))
            } catch {
                await outcome.settle(.failure(error))
            }
        }
        let timer = Task {
            try? await Task.sleep(for: deadline)
            if !Task.isCancelled {
                await outcome.settle(.failure(StateStoreError(
                    .unavailable, "PostgreSQL did not answer within \(deadline.seconds) s")))
            }
        }
        return try await withTaskCancellationHandler {
            let result = await outcome.value
            work.cancel()
            timer.cancel()
            return try result.get()
        } onCancel: {
            work.cancel()
            timer.cancel()
        }
    }

    func translatingErrors<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as PostgresTransactionError {
            let inner = error.closureError ?? error.beginError ?? error.commitError
            if let inner, !(inner is PSQLError) { throw inner }
            throw Self.translate(inner ?? error)
        } catch let error as PSQLError {
            throw Self.translate(error)
        }
    }

    /// A server error as a `StateStoreError` that says what the server said (postgres-nio's own description hides
    /// it); a lost or refused connection is `unavailable`.
    static func translate(_ error: any Error) -> StateStoreError {
        guard let error = error as? PSQLError else {
            return StateStoreError(.unavailable, "\(String(reflecting: error))")
        }
        if let message = error.serverInfo?[.message] {
            return StateStoreError(.unreadable, "server said: \(message)")
        }
        return StateStoreError(.unavailable, "PostgreSQL: \(error.code.description)")
    }

    // MARK: Node status

    static let nodeColumns = "name, rack, phase, image, services, drifted, last_error, last_seen"

    static func nodeRecord(_ row: PostgresRow) throws -> NodeRecord {
        let (name, rack, phaseText, image, services, drifted, lastError, seen) =
            try row.decode((String, String?, String, String?, String, String, String?, Double).self)
        guard let phase = NodeStatus.Phase(rawValue: phaseText) else {
            throw StateStoreError(.unreadable, "unknown phase '\(phaseText)'")
        }
        let status = NodeStatus(phase: phase, image: image, services: try StoredText.decodeList(services),
                                drifted: try StoredText.decodeList(drifted), rack: rack)
        return NodeRecord(name: name, status: status, lastError: lastError, lastSeen: Date(timeIntervalSince1970: seen))
    }

    public func observedState() async throws -> ObservedState {
        ObservedState(nodes: try await nodeRecords().mapValues(\.status))
    }

    public func nodeRecords() async throws -> [String: NodeRecord] {
        var records: [String: NodeRecord] = [:]
        for row in try await rows(
            "SELECT name, rack, phase, image, services, drifted, last_error, last_seen FROM node_status")
        {
            let record = try Self.nodeRecord(row)
            records[record.name] = record
        }
        return records
    }

    public func nodeRecord(_ node: String) async throws -> NodeRecord? {
        try await rows("""
            SELECT name, rack, phase, image, services, drifted, last_error, last_seen FROM node_status
            WHERE name = \(node)
            """).first.map(Self.nodeRecord)
    }

    public func record(_ status: NodeStatus, lastError: String?, for node: String, at time: Date) async throws {
        let services = try StoredText.encodeList(status.services)
        let drifted = try StoredText.encodeList(status.drifted)
        try await rows("""
            INSERT INTO node_status (name, rack, phase, image, services, drifted, last_error, last_seen)
            VALUES (\(node), \(status.rack), \(status.phase.rawValue), \(status.image), \(services), \(drifted),
                    \(lastError), \(time.timeIntervalSince1970))
            ON CONFLICT (name) DO UPDATE SET rack = excluded.rack, phase = excluded.phase, image = excluded.image,
                services = excluded.services, drifted = excluded.drifted, last_error = excluded.last_error,
                last_seen = excluded.last_seen
            """)
    }

    // MARK: Commit

    public func lastAppliedCommit() async throws -> String? {
        try await rows("SELECT value FROM meta WHERE key = 'last_applied_commit'").first?.decode(String.self)
    }

    public func setLastAppliedCommit(_ commit: String, at time: Date) async throws {
        try await rows("""
            INSERT INTO meta (key, value, updated_at) VALUES ('last_applied_commit', \(commit),
                \(time.timeIntervalSince1970))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """)
    }

    // MARK: Install progress

    public func recordInstall(_ report: InstallReport, for node: String, at time: Date, receivedBy: String?)
        async throws
    {
        // The inventory goes to its own table, as in SQLite: the stored report stays flat.
        let inventory = try report.hardware.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        var flat = report
        flat.hardware = nil
        let text = try StoredText.encodeReport(flat)
        let seconds = time.timeIntervalSince1970
        try await transaction { [self] connection in
            if let inventory {
                try await connection.query("""
                    INSERT INTO hardware_inventory (node, inventory, updated_at) VALUES (\(node), \(inventory), \(seconds))
                    ON CONFLICT (node) DO UPDATE SET inventory = excluded.inventory, updated_at = excluded.updated_at
                    """, logger: self.logger)
            }
            try await connection.query("""
                INSERT INTO install_progress (node, report, updated_at, received_by)
                VALUES (\(node), \(text), \(seconds), \(receivedBy))
                ON CONFLICT (node) DO UPDATE SET report = excluded.report, updated_at = excluded.updated_at,
                    received_by = excluded.received_by
                """, logger: self.logger)
            try await connection.query("""
                INSERT INTO install_sample (node, image, at, downloaded, uploaded, from_seed)
                VALUES (\(node), \(report.image), \(seconds), \(report.downloaded), \(report.uploaded),
                        \(report.fromSeed))
                """, logger: self.logger)
            try await connection.query(
                "DELETE FROM install_sample WHERE at < \(seconds - installSampleRetention)", logger: self.logger)
        }
    }

    public func installProgress() async throws -> [String: InstallProgress] {
        var progress: [String: InstallProgress] = [:]
        for row in try await rows("SELECT node, report, updated_at, received_by FROM install_progress") {
            let (node, entry) = try Self.installProgress(row)
            progress[node] = entry
        }
        return progress
    }

    public func installProgress(of node: String) async throws -> InstallProgress? {
        try await rows("SELECT node, report, updated_at, received_by FROM install_progress WHERE node = \(node)")
            .first.map(Self.installProgress)?.1
    }

    static func installProgress(_ row: PostgresRow) throws -> (String, InstallProgress) {
        let (node, text, updated, receiver) = try row.decode((String, String, Double, String?).self)
        guard let report = StoredText.decodeReport(text) else {
            throw StateStoreError(.unreadable, "install report of \(node)")
        }
        return (node, InstallProgress(report: report, updatedAt: Date(timeIntervalSince1970: updated),
                                      receivedBy: receiver))
    }

    public func hardware(of node: String) async throws -> HardwareRecord? {
        guard let row = try await rows("SELECT inventory, updated_at FROM hardware_inventory WHERE node = \(node)")
            .first else { return nil }
        let (text, updated) = try row.decode((String, Double).self)
        guard let inventory = try? JSONDecoder().decode(HardwareInventory.self, from: Data(text.utf8)) else {
            throw StateStoreError(.unreadable, "hardware inventory of \(node)")
        }
        return HardwareRecord(inventory: inventory, updatedAt: Date(timeIntervalSince1970: updated))
    }

    public func installSamples(since: Date) async throws -> [InstallSample] {
        try await rows("""
            SELECT node, image, at, downloaded, uploaded, from_seed FROM install_sample
            WHERE at >= \(since.timeIntervalSince1970) ORDER BY at, id
            """).map { row in
            let (node, image, at, downloaded, uploaded, fromSeed) =
                try row.decode((String, String, Double, Int64, Int64, Int64).self)
            return InstallSample(node: node, image: image, at: Date(timeIntervalSince1970: at),
                                 downloaded: downloaded, uploaded: uploaded, fromSeed: fromSeed)
        }
    }

    // MARK: Remembered nodes

    public func remember(_ node: RememberedNode, at time: Date) async throws {
        let spec = String(decoding: try JSONEncoder().encode(node), as: UTF8.self)
        try await rows("""
            INSERT INTO remembered_node (name, spec, updated_at) VALUES (\(node.name), \(spec),
                \(time.timeIntervalSince1970))
            ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
            """)
    }

    public func rememberedNodes() async throws -> [String: RememberedNode] {
        var nodes: [String: RememberedNode] = [:]
        for row in try await rows("SELECT name, spec FROM remembered_node") {
            let (name, spec) = try row.decode((String, String).self)
            guard let node = try? JSONDecoder().decode(RememberedNode.self, from: Data(spec.utf8)) else {
                throw StateStoreError(.unreadable, "remembered node \(name)")
            }
            nodes[node.name] = node
        }
        return nodes
    }
}

/// The first of a call's result and its deadline, for whoever waits.
actor DeadlineOutcome<Value: Sendable> {
    private var result: Result<Value, any Error>?
    private var waiters: [CheckedContinuation<Result<Value, any Error>, Never>] = []

    /// Records `result` unless one came first, and wakes the waiter.
    func settle(_ result: Result<Value, any Error>) {
        guard self.result == nil else { return }
        self.result = result
        for waiter in waiters { waiter.resume(returning: result) }
        waiters = []
    }

    /// The first result, once there is one.
    var value: Result<Value, any Error> {
        get async {
            if let result { return result }
            return await withCheckedContinuation { waiters.append($0) }
        }
    }
}
