import Foundation
import LabSupport
import Reconciler
import ReconcilerPostgres
import RackswarmCore
import Testing

/// What only the PostgreSQL store has: `--state postgres://…` parsing (the password only by reference), password
/// authentication, migrations under concurrency, and the refusal of a newer schema. Against a real server.
struct PostgresStoreTests {
    @Test func theURLNamesThePasswordOnlyByReference() throws {
        let location = try PostgresLocation(
            parsing: "postgres://rackswarm@db.example.net:6543/site?password=env:RACKSWARM_DB&sslmode=require")
        #expect(location.host == "db.example.net" && location.port == 6543 && location.database == "site")
        #expect(location.user == "rackswarm" && location.password == .environment("RACKSWARM_DB"))
        #expect(location.tls == .require)
        #expect(try PostgresLocation(parsing: "postgresql://u@h/d").port == 5432)
        #expect(PostgresLocation.isPostgres("postgres://u@h/d") && !PostgresLocation.isPostgres("state.db"))
        let refusals = [
            "postgres://rackswarm:hunter2@db/site": "password",
            "postgres://rackswarm@db/site?password=hunter2": "env:NAME or file:PATH",
            "postgres://db/site": "no user",
            "postgres://rackswarm@db": "no database",
            "postgres://rackswarm@db/site?sslmode=maybe": "sslmode",
            "postgres://rackswarm@db/site?pool=3": "unknown parameter 'pool'",
        ]
        for (url, why) in refusals {
            let error = #expect(throws: PostgresLocationError.self) { try PostgresLocation(parsing: url) }
            #expect(error?.description.contains(why) == true, "\(url): \(error?.description ?? "")")
            #expect(error?.description.contains("hunter2") == false, "a refusal never echoes the secret")
        }
    }

    @Test func aWrongPasswordIsRefusedWithoutShowingIt() async throws {
        let url = try await PostgresServer.shared.newDatabase()
        var location = try PostgresLocation(parsing: url)
        let directory = try TemporaryDirectory("rackswarm-pg")
        try directory.write("wrong", Data("not-the-password\n".utf8))
        location.password = .file(directory.path + "/wrong")
        let error = await #expect(throws: StateStoreError.self) { try await PostgresStateStore.connect(location) }
        #expect(error?.description.contains("not-the-password") == false)
        location.password = .environment("RACKSWARM_TEST_UNSET_PASSWORD")
        await #expect(throws: SecretError.self) { try await PostgresStateStore.connect(location) }
    }

    @Test func reconcilersStartingAtOnceMigrateOnce() async throws {
        let url = try await PostgresServer.shared.newDatabase()
        let location = try PostgresLocation(parsing: url)
        let stores = try await withThrowingTaskGroup(of: PostgresStateStore.self) { group in
            for index in 0..<4 { group.addTask { try await PostgresStateStore.connect(location, shard: "s\(index)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        defer { for store in stores { store.close() } }
        let endpoint = try await PostgresServer.shared.endpoint()
        // Each migration once: a second run of the same version would have failed on its primary key.
        try await PostgresServer.shared.psql(
            endpoint, "DO $$ BEGIN IF (SELECT count(*) FROM rackswarm_migration) <> "
                + "\(PostgresStateStore.schemaVersion) THEN RAISE EXCEPTION 'migrations ran twice'; END IF; END $$",
            database: location.database)
        #expect(try await stores[0].lastAppliedCommit() == nil)
    }

    @Test func aSchemaFromANewerRackswarmIsRefused() async throws {
        let url = try await PostgresServer.shared.newDatabase()
        let location = try PostgresLocation(parsing: url)
        try await PostgresStateStore.connect(location).close()
        let endpoint = try await PostgresServer.shared.endpoint()
        try await PostgresServer.shared.psql(
            endpoint, "INSERT INTO rackswarm_migration VALUES (99, 'v99: from the future', 0)",
            database: location.database)
        let error = await #expect(throws: StateStoreVersionError.self) {
            try await PostgresStateStore.connect(location)
        }
        #expect(error?.found == 99 && error?.expected == PostgresStateStore.schemaVersion)
    }
}

/// `reconcile store migrate --from state.db --to postgres://…`: the whole SQLite store, ids and times kept; a
/// database that holds anything already is refused, and nothing is copied into it.
struct StoreMigrateCommandTests {
    @Test func aSQLiteStoreMovesToPostgreSQLWhole() async throws {
        let directory = try TemporaryDirectory("rackswarm-migrate")
        let sqlite = try SQLiteStateStore(path: directory.database)
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        try await sqlite.record(NodeStatus(phase: .ready, image: "os@1", services: ["web"], rack: "r1"),
                                lastError: nil, for: "n1", at: t0)
        try await sqlite.record(NodeStatus(phase: .failed, rack: "r2"), lastError: "BMC \"unreachable\"", for: "n2",
                                at: t0)
        let actions = [
            PlannedAction(node: "n1", rack: "r1", wave: 1, kind: .powerCycle, destructive: true, detail: "cycle"),
            PlannedAction(node: "n1", rack: "r1", wave: 1, kind: .installService, destructive: false, detail: "",
                          service: "web"),
            PlannedAction(node: "n2", rack: "r2", wave: 2, kind: .installImage, destructive: true, detail: "os@1"),
        ]
        let ids = try await sqlite.journalPlanned(actions, commit: "c1", at: t0)
        try await sqlite.journalStarted(ids[0], at: t0.addingTimeInterval(1))
        try await sqlite.journalFinished(ids[0], at: t0.addingTimeInterval(2))
        try await sqlite.journalFailed(ids[2], error: "no BMC", at: t0.addingTimeInterval(3))
        try await sqlite.recordInstall(InstallReport(phase: .downloading, image: "os@1", percent: 12.5,
                                                     downloaded: 1 << 34), for: "n2", at: t0, receivedBy: "room-a-1")
        let inventory = HardwareInventory(cpus: 4, cpuModel: "lab", memoryBytes: 8 << 30,
                                          disks: [.init(name: "sda", bytes: 1 << 40, serial: "n1-disk")],
                                          nics: [.init(name: "eth0", mac: "52:54:00:00:00:01", link: "up")])
        try await sqlite.recordInstall(InstallReport(phase: .booted, image: "os@1", hardware: inventory), for: "n1",
                                       at: t0)
        try await sqlite.suspendRack("r2", actor: "alice", remote: "192.0.2.7", at: t0)
        try await sqlite.requestPass(actor: "bob", remote: nil, at: t0.addingTimeInterval(5))
        try await sqlite.setLastAppliedCommit("c0", at: t0)
        let original = try await StoreSnapshot.read(from: sqlite)

        let url = try await PostgresServer.shared.newDatabase()
        let migrated = try await runProcess(ValidateCommandTests.binary,
                                      ["store", "migrate", "--from", directory.database, "--to", url])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("copied 2 nodes and 3 journal entries"))
        let postgres = try await PostgresStateStore.connect(try PostgresLocation(parsing: url))
        defer { postgres.close() }
        #expect(original.hardware["n1"]?.inventory == inventory, "the inventory table is part of the copy")
        #expect(original.installs["n2"]?.receivedBy == "room-a-1" && original.installs["n1"]?.receivedBy == nil,
                "who received each report is part of the copy")
        #expect(try await StoreSnapshot.read(from: postgres) == original)
        // New entries continue after the copied ids.
        #expect(try await postgres.journalPlanned([actions[0]], commit: "c2", at: Date()) == [ids[2] + 1])

        let again = try await runProcess(ValidateCommandTests.binary,
                                   ["store", "migrate", "--from", directory.database, "--to", url])
        #expect(again.status == 1 && again.stderr.contains("not empty"), "\(again.stderr)")
        #expect(try await postgres.journal(node: nil).count == 4, "a refused copy adds nothing")
        let secret = try await runProcess(ValidateCommandTests.binary, [
            "store", "migrate", "--from", directory.database, "--to", "postgres://u:hunter2@127.0.0.1/x",
        ])
        #expect(secret.status != 0 && secret.stderr.contains("by reference") && !secret.stderr.contains("hunter2"))
    }
}
