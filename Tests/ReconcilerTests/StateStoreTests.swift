import Foundation
import Reconciler
import Testing

/// The SQLite state store (and its in-memory twin): status, commit, journal, and crash safety.
struct StateStoreTests {
    final class TempDirectory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rackswarm-store-\(UUID().uuidString)")
        deinit { try? FileManager.default.removeItem(at: url) }
        var database: String { url.appendingPathComponent("state.db").path }
    }

    static func stores(_ directory: TempDirectory) throws -> [any StateStore] {
        [try SQLiteStateStore(path: directory.database), MemoryStateStore()]
    }

    @Test func statusAndCommitRoundTrip() async throws {
        let directory = TempDirectory()
        for store in try Self.stores(directory) {
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

    @Test func journalTransitions() async throws {
        let directory = TempDirectory()
        for store in try Self.stores(directory) {
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
        let directory = TempDirectory()
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
        let directory = TempDirectory()
        for round in 0..<3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ValidateCommandTests.binary)
            process.arguments = ["dev", "journal-stress", "--state", directory.database]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            // Wait until it is writing, then let it run a random while.
            _ = out.fileHandleForReading.availableData
            try await Task.sleep(for: .milliseconds(50 + 70 * round))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
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
