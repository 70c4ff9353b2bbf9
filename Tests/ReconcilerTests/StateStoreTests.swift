import Drivers
import Foundation
import LabSupport
import Reconciler
import ReconcilerTesting
import Testing
@testable import ReconcilerStore

/// Every state store — SQLite, its in-memory twin, and PostgreSQL on a real server — behaves the same: status,
/// commit, journal; and the SQLite file survives a killed writer.
struct StateStoreTests {
    @Test(arguments: StoreKind.allCases) func statusAndCommitRoundTrip(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let status = NodeStatus(phase: .ready, image: "os@1", services: ["vod", "web"], drifted: ["web"], rack: "r1")
            try await store.record(status, lastError: "mediaServer died", for: "n1", at: Date(timeIntervalSince1970: 100))
            #expect(try await store.observedState().nodes == ["n1": status])
            let record = try #require(try await store.nodeRecord("n1"))
            #expect(record.lastError == "mediaServer died")
            #expect(record.lastSeen == Date(timeIntervalSince1970: 100))
            #expect(try await store.lastAppliedCommit() == nil)
            try await store.setLastAppliedCommit("abc123", at: Date())
            #expect(try await store.lastAppliedCommit() == "abc123")
        }
    }

    @Test(arguments: StoreKind.allCases) func installProgressKeepsTheLatestReportPerNode(_ kind: StoreKind)
        async throws
    {
        try await kind.withStore { store in
            #expect(try await store.installProgress().isEmpty)
            try await store.recordInstall(InstallReport(phase: .booted, image: "os@1"), for: "n1",
                                          at: Date(timeIntervalSince1970: 10))
            let downloading = InstallReport(phase: .downloading, image: "os@1", percent: 42.5, downloaded: 425,
                                            uploaded: 17, fromSeed: 100, uploadStartedAtPercent: 4)
            try await store.recordInstall(downloading, for: "n1", at: Date(timeIntervalSince1970: 12))
            // Which reconciler received a report is kept with it (the latest report's).
            try await store.recordInstall(InstallReport(phase: .booted, image: "os@1"), for: "n2",
                                          at: Date(timeIntervalSince1970: 11), receivedBy: "s0")
            try await store.recordInstall(InstallReport(phase: .failed, image: "os@1", error: "sha256 mismatch"),
                                          for: "n2", at: Date(timeIntervalSince1970: 13), receivedBy: "s1")
            let progress = try await store.installProgress()
            #expect(progress["n1"] == InstallProgress(report: downloading, updatedAt: Date(timeIntervalSince1970: 12)))
            #expect(progress["n1"]?.receivedBy == nil, "not told")
            #expect(progress["n2"]?.report.error == "sha256 mismatch" && progress["n2"]?.receivedBy == "s1")
            #expect(try await store.nodeOverviews()["n2"]?.install?.receivedBy == "s1")
            #expect(progress.count == 2)
            #expect(try await store.installProgress(of: "n1") == progress["n1"])
            #expect(try await store.installProgress(of: "n3") == nil)
        }
    }

    /// The inventory arrives with `booted` and outlives the reports that replace it; the stored report stays flat.
    @Test(arguments: StoreKind.allCases) func hardwareInventoryIsKeptApartFromTheInstallReport(_ kind: StoreKind)
        async throws
    {
        let inventory = HardwareInventory(
            cpus: 2, cpuModel: "QEMU", memoryBytes: 1 << 30,
            disks: [.init(name: "vda", bytes: 2 << 30, serial: "r1n1-disk")],
            nics: [.init(name: "eth0", mac: "52:54:00:77:01:01", link: "up")])
        try await kind.withStore { store in
            #expect(try await store.hardware(of: "n1") == nil)
            try await store.recordInstall(InstallReport(phase: .booted, image: "os@1", hardware: inventory),
                                          for: "n1", at: Date(timeIntervalSince1970: 10))
            try await store.recordInstall(InstallReport(phase: .downloading, image: "os@1", percent: 5),
                                          for: "n1", at: Date(timeIntervalSince1970: 12))
            #expect(try await store.hardware(of: "n1")
                    == HardwareRecord(inventory: inventory, updatedAt: Date(timeIntervalSince1970: 10)))
            #expect(try await store.installProgress(of: "n1")?.report.phase == .downloading)
            var smaller = inventory
            smaller.disks[0].bytes = 1 << 30
            try await store.recordInstall(InstallReport(phase: .booted, image: "os@2", hardware: smaller),
                                          for: "n1", at: Date(timeIntervalSince1970: 20))
            #expect(try await store.hardware(of: "n1")?.inventory == smaller, "a new report replaces the old one")
            #expect(try await store.installProgress(of: "n1")?.report.hardware == nil)
            #expect(try await store.hardware(of: "n2") == nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func activityFollowsTheJournalAndTheInstallReport(_ kind: StoreKind)
        async throws
    {
        try await kind.withStore { store in
            func action(_ kind: PlannedAction.Kind) -> PlannedAction {
                PlannedAction(node: "n1", rack: "r1", wave: 0, kind: kind, destructive: false, detail: "")
            }
            func activity() async throws -> NodeActivity {
                NodeActivity(node: "n1", record: try await store.nodeRecord("n1"), journal: try await store.journal(node: "n1"),
                             install: try await store.installProgress()["n1"])
            }
            #expect(try await activity().phase == .unknown)
            let ids = try await store.journalPlanned([action(.powerCycle), action(.installImage)], commit: "c1", at: Date())
            #expect(try await activity().phase == .planned)
            try await store.journalStarted(ids[0], at: Date())
            #expect(try await activity().phase == .powering)
            try await store.journalFinished(ids[0], at: Date())
            try await store.journalStarted(ids[1], at: Date())
            #expect(try await activity().phase == .pxe)
            try await store.recordInstall(InstallReport(phase: .downloading, image: "os@1", percent: 30), for: "n1", at: Date())
            #expect(try await activity().phase == .downloading)
            #expect(try await activity().percent == 30)
            try await store.recordInstall(InstallReport(phase: .written, image: "os@1", percent: 100), for: "n1", at: Date())
            #expect(try await activity().phase == .installing)
            try await store.journalFailed(ids[1], error: "timed out", at: Date())
            try await store.record(NodeStatus(phase: .unknown), lastError: "install timed out", for: "n1", at: Date())
            #expect(try await activity().phase == .stalled)
            #expect(try await activity().lastError == "install timed out")
            try await store.record(NodeStatus(phase: .failed), lastError: "gave up", for: "n1", at: Date())
            #expect(try await activity().phase == .failed)
        }
    }

    @Test(arguments: StoreKind.allCases) func journalTransitions(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let actions = [
                PlannedAction(node: "n1", rack: "r1", wave: 1, kind: .powerCycle, destructive: false, detail: "a"),
                PlannedAction(node: "n2", rack: "r1", wave: 1, kind: .installImage, destructive: true, detail: "b"),
            ]
            let ids = try await store.journalPlanned(actions, commit: "c1", at: Date())
            #expect(ids.count == 2)
            try await store.journalStarted(ids[0], at: Date())
            try await store.journalStarted(ids[1], at: Date())
            try await store.journalFinished(ids[0], at: Date())
            #expect(try await store.unfinishedActions().map(\.action) == [actions[1]])
            try await store.journalFailed(ids[1], error: "BMC unreachable", at: Date())
            #expect(try await store.unfinishedActions().isEmpty)
            let journal = try await store.journal(node: "n2")
            #expect(journal.map(\.state) == [.failed])
            #expect(journal.first?.error == "BMC unreachable")
            #expect(journal.first?.commit == "c1")
            await #expect(throws: StateStoreError.self) { try await store.journalFinished(ids[1], at: Date()) }
            await #expect(throws: StateStoreError.self) { try await store.journalStarted(999, at: Date()) }
        }
    }

    @Test func storePersistsAcrossOpens() async throws {
        let directory = try TemporaryDirectory("rackswarm-store")
        do {
            let store = try SQLiteStateStore(path: directory.database)
            try await store.setLastAppliedCommit("deadbeef", at: Date())
        }
        let reopened = try SQLiteStateStore(path: directory.database)
        #expect(try await reopened.lastAppliedCommit() == "deadbeef")
    }

    /// SIGKILL a writer mid-stream, several times: the file stays sound, every row is whole, and at most the one
    /// action in flight is left started-but-unfinished for the next run to find.
    @Test func killedWriterLeavesNoHalfWrittenRow() async throws {
        let directory = try TemporaryDirectory("rackswarm-store")
        for round in 0..<3 {
            let process = try LabProcess(ValidateCommandTests.binary,
                                         ["dev", "journal-stress", "--state", directory.database],
                                         outputFile: directory.path + "/stress-\(round).log")
            // Wait until it is writing (its first line), then let it run a random while.
            for _ in 0..<600 where process.output.isEmpty && process.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(50 + 70 * round))
            process.signal(SIGKILL)
            #expect(await process.wait(timeout: 30) == 128 + SIGKILL, "\(process.output)")
        }
        let store = try SQLiteStateStore(path: directory.database)
        #expect(try await store.integrityCheck() == "ok")
        let journal = try await store.journal(node: nil)
        #expect(journal.count > 20)
        for entry in journal {
            #expect(entry.action.detail.hasPrefix("stress "))
            switch entry.state {
            case .finished: #expect(entry.startedAt != nil && entry.finishedAt != nil)
            case .started: #expect(entry.startedAt != nil && entry.finishedAt == nil)
            case .planned: #expect(entry.startedAt == nil)
            case .failed: Issue.record("nothing fails in the stress loop")
            }
        }
        // One kill per round can interrupt at most one action between start and finish.
        #expect(try await store.unfinishedActions().count <= 3)
        #expect(journal.filter { $0.state == .planned }.count <= 3)
    }
}

/// The whole-site reads of status views give what the per-node reads and the whole journal give.
struct StateStoreSiteReadTests {
    @Test(arguments: StoreKind.allCases) func siteReadsAgreeWithPerNodeReads(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let actions = (1...3).flatMap { index in
                [PlannedAction.Kind.writeBootEntry, .powerCycle, .installImage].map { kind in
                    PlannedAction(node: "n\(index)", rack: "r1", wave: 1, kind: kind, destructive: false, detail: "")
                }
            }
            let ids = try await store.journalPlanned(actions, commit: "c1", at: Date(timeIntervalSince1970: 1))
            // n1: everything finished; n2: its image install running, a later entry still planned; n3: planned.
            for id in ids.prefix(3) {
                try await store.journalStarted(id, at: Date(timeIntervalSince1970: 2))
                try await store.journalFinished(id, at: Date(timeIntervalSince1970: 3))
            }
            try await store.journalStarted(ids[3], at: Date(timeIntervalSince1970: 4))
            try await store.journalFailed(ids[4], error: "no BMC", at: Date(timeIntervalSince1970: 5))
            try await store.journalStarted(ids[5], at: Date(timeIntervalSince1970: 6))
            try await store.journalFinished(ids[5], at: Date(timeIntervalSince1970: 7))
            let reimage = PlannedAction(node: "n2", rack: "r1", wave: 2, kind: .bootLocal, destructive: false,
                                        detail: "")
            _ = try await store.journalPlanned([reimage], commit: "c2", at: Date(timeIntervalSince1970: 8))
            try await store.record(NodeStatus(phase: .ready, image: "os@1", services: ["web", "vod"], rack: "r1"),
                                   lastError: nil, for: "n1", at: Date(timeIntervalSince1970: 9))
            try await store.record(NodeStatus(phase: .provisioning, services: ["a \"quoted\" name"], rack: "r1"),
                                   lastError: "slow", for: "n2", at: Date(timeIntervalSince1970: 9))

            let latest = try await store.latestJournalEntries()
            let whole = try await store.journal(node: nil)
            for node in ["n1", "n2", "n3"] {
                let journal = whole.filter { $0.action.node == node }
                #expect(latest[node] == JournalEntry.latest(of: journal), "\(node)")
                let record = try await store.nodeRecord(node)
                #expect(NodeActivity(node: node, record: record, journal: latest[node] ?? [], install: nil)
                        == NodeActivity(node: node, record: record, journal: journal, install: nil), "\(node)")
            }
            #expect(latest["n2"]?.map(\.state) == [.started, .planned])
            #expect(latest["n3"]?.count == 1)
            let records = try await store.nodeRecords()
            #expect(records.count == 2)
            #expect(records["n1"] == (try await store.nodeRecord("n1")))
            #expect(records["n2"]?.status.services == ["a \"quoted\" name"])
            let install = InstallReport(phase: .downloading, image: "os@1", percent: 40, downloaded: 4, uploaded: 0,
                                        fromSeed: 4)
            try await store.recordInstall(install, for: "n4", at: Date(timeIntervalSince1970: 10))
            try await Self.expectOverviewsAgree(store, nodes: ["n1", "n2", "n3", "n4"])
            #expect(try await store.nodeOverviews()["n4"]?.install?.report == install)
        }
    }

    /// `nodeOverviews` holds, per node, what the three whole-site reads hold.
    static func expectOverviewsAgree(_ store: any StateStore, nodes: [String],
                                     sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let overviews = try await store.nodeOverviews()
        let expected = NodeOverview.join(records: try await store.nodeRecords(),
                                         journal: try await store.latestJournalEntries(),
                                         installs: try await store.installProgress())
        #expect(overviews == expected, sourceLocation: sourceLocation)
        let whole = try await store.journal(node: nil)
        for node in nodes {
            let latest = JournalEntry.latest(of: whole.filter { $0.action.node == node })
            #expect(overviews[node]?.journal ?? [] == latest, "\(node)", sourceLocation: sourceLocation)
        }
    }

    /// The latest entries per node follow every journal write: a start, a finish, a second run, a prune.
    @Test func latestEntriesFollowEveryJournalWrite() async throws {
        let directory = try TemporaryDirectory("rackswarm-store")
        let store = try SQLiteStateStore(path: directory.database)
        let nodes = ["a", "b"]
        func plan(_ kind: PlannedAction.Kind, at time: Double) async throws -> [Int64] {
            try await store.journalPlanned(nodes.map {
                PlannedAction(node: $0, rack: "r1", wave: 1, kind: kind, destructive: false, detail: "")
            }, commit: nil, at: Date(timeIntervalSince1970: time))
        }
        let first = try await plan(.powerCycle, at: 1)
        try await Self.expectOverviewsAgree(store, nodes: nodes)
        for id in first { try await store.journalStarted(id, at: Date(timeIntervalSince1970: 2)) }
        let second = try await plan(.installImage, at: 3)
        try await Self.expectOverviewsAgree(store, nodes: nodes)
        #expect(try await store.nodeOverviews()["a"]?.journal.map(\.state) == [.started, .planned])
        try await store.journalFinished(first[0], at: Date(timeIntervalSince1970: 4))
        try await store.journalFailed(first[1], error: "no BMC", at: Date(timeIntervalSince1970: 4))
        try await store.journalStarted(second[0], at: Date(timeIntervalSince1970: 5))
        try await Self.expectOverviewsAgree(store, nodes: nodes)
        try await store.journalFinished(second[0], at: Date(timeIntervalSince1970: 6))
        try await store.journalFailed(second[1], error: "gone", at: Date(timeIntervalSince1970: 6))
        try await Self.expectOverviewsAgree(store, nodes: nodes)
        // Keeping nothing deletes every ended entry: the nodes leave the table with their journal.
        #expect(try await store.pruneJournal(before: Date(timeIntervalSince1970: 100), keepingNewestPerNode: 0) == 4)
        try await Self.expectOverviewsAgree(store, nodes: nodes)
        #expect(try await store.nodeOverviews().isEmpty)
        _ = try await plan(.bootLocal, at: 7)
        try await Self.expectOverviewsAgree(store, nodes: nodes)
        #expect(try await store.nodeOverviews()["b"]?.journal.map(\.action.kind) == [.bootLocal])
    }

    @Test(arguments: StoreKind.allCases) func installReportsReadBackAsWritten(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            var written: [InstallReport] = []
            for index in 0..<50 {
                let report = InstallReport(phase: InstallReport.Phase.allCases[index % 6], image: "os@1",
                                           percent: Double(index) / 3, downloaded: Int64(index) << 33,
                                           uploaded: Int64(index), fromSeed: -1,
                                           uploadStartedAtPercent: index % 4 == 0 ? 12.5 : nil,
                                           error: index == 7 ? "disk \"full\" ✗" : index == 8 ? "no network" : nil)
                written.append(report)
                try await store.recordInstall(report, for: "n\(index)", at: Date(timeIntervalSince1970: Double(index)))
            }
            // Plain reports take the decoder-free path; one with an escape in its error takes JSONDecoder's.
            for report in written {
                let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
                #expect(FlatReportReader.report(json) == (report.error?.contains("\"") == true ? nil : report), "\(json)")
            }
            #expect(FlatReportReader.report(#"{"phase":"booted","image":"a","percent":0,"downloaded":0,"uploaded":0,"#
                                            + #""fromSeed":0,"extra":1}"#) == nil)
            let all = try await store.installProgress()
            #expect(all.count == 50)
            for index in 0..<50 {
                #expect(all["n\(index)"]?.report == written[index])
                #expect(all["n\(index)"] == (try await store.installProgress(of: "n\(index)")))
            }
        }
    }
}

extension TemporaryDirectory {
    /// A state database in the directory.
    var database: String { path + "/state.db" }
}
