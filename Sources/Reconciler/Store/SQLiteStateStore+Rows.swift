import Foundation
import GRDB
import RackswarmCore
import ReconcilerModel

/// How the store's rows become model values.
extension SQLiteStateStore {
    static func encodeList(_ list: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(list), as: UTF8.self)
    }

    /// The columns `nodeRecord(_:)` reads, by position: rows are read by index, not by name (a name costs a
    /// hashed lookup per column per row, which a 100,000-node view feels).
    static let nodeColumns = "name, rack, phase, image, services, drifted, last_error, last_seen"

    static func nodeRecord(_ row: Row) throws -> NodeRecord {
        let phaseText: String = row[2]
        guard let phase = NodeStatus.Phase(rawValue: phaseText) else {
            throw StateStoreError(.unreadable, "unknown phase '\(phaseText)'")
        }
        let status = NodeStatus(phase: phase, image: row[3], services: try decodeList(row[4]),
                                drifted: try decodeList(row[5]), rack: row[1])
        let seen: Double = row[7]
        return NodeRecord(name: row[0], status: status, lastError: row[6], lastSeen: Date(timeIntervalSince1970: seen))
    }

    /// The columns `journalEntry(_:)` reads, by position.
    static let journalColumns =
        "id, commit_sha, node, rack, wave, kind, destructive, detail, service, state, error, planned_at, started_at, "
        + "finished_at"

    static func journalEntry(_ row: Row) throws -> JournalEntry {
        let kindText: String = row[5]
        let stateText: String = row[9]
        guard let kind = actionKinds[kindText], let state = JournalEntry.State(rawValue: stateText)
        else { throw StateStoreError(.unreadable, "journal row with kind '\(kindText)' state '\(stateText)'") }
        let action = PlannedAction(node: row[2], rack: row[3], wave: row[4], kind: kind, destructive: row[6],
                                   detail: row[7], service: row[8])
        let planned: Double = row[11]
        let started: Double? = row[12]
        let finished: Double? = row[13]
        return JournalEntry(id: row[0], commit: row[1], action: action, state: state, error: row[10],
                            plannedAt: Date(timeIntervalSince1970: planned),
                            startedAt: started.map(Date.init(timeIntervalSince1970:)),
                            finishedAt: finished.map(Date.init(timeIntervalSince1970:)))
    }

    /// Action kinds by their stored name, found by one hash where `Kind(rawValue:)` compares the name with the
    /// cases one after another (a fifth of a journal row's reading).
    private static let actionKinds = Dictionary(
        uniqueKeysWithValues: PlannedAction.Kind.allCases.map { ($0.rawValue, $0) })

    /// A list column (`["web","vod"]`, as `JSONEncoder` writes it): read directly when it holds plain strings,
    /// through `JSONDecoder` when it holds escapes.
    static func decodeList(_ text: String) throws -> [String] {
        if text == "[]" { return [] }
        if let list = plainList(text) { return list }
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    /// `[]` or `["a","b"]` with no backslash; nil for anything else.
    private static func plainList(_ text: String) -> [String]? {
        let bytes = Array(text.utf8)
        guard bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]"), !bytes.contains(0x5C) else {
            return nil
        }
        var list: [String] = []
        var index = 1
        let end = bytes.count - 1
        while index < end {
            guard bytes[index] == UInt8(ascii: "\""),
                  let close = bytes[(index + 1)..<end].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            list.append(String(decoding: bytes[(index + 1)..<close], as: UTF8.self))
            index = close + 1
            if index < end {
                guard bytes[index] == UInt8(ascii: ","), index + 1 < end else { return nil }
                index += 1
            }
        }
        return list
    }
}
