import Foundation
import RackswarmCore

/// How every store writes its text columns (service lists, install reports, remembered nodes) and reads them
/// back, so that a row copied from one store to another reads the same.
public enum StoredText {
    /// A list as `["a","b"]`.
    public static func encodeList(_ list: [String]) throws -> String { try SQLiteStateStore.encodeList(list) }

    /// A list written by `encodeList`.
    public static func decodeList(_ text: String) throws -> [String] { try SQLiteStateStore.decodeList(text) }

    /// An install report as JSON.
    public static func encodeReport(_ report: InstallReport) throws -> String {
        String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    }

    /// An install report written by `encodeReport`: the decoder-free path when it is flat, `JSONDecoder` when not.
    public static func decodeReport(_ text: String) -> InstallReport? {
        FlatReportReader.report(text) ?? (try? JSONDecoder().decode(InstallReport.self, from: Data(text.utf8)))
    }
}
