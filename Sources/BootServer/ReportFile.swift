import Foundation
import RackswarmCore

/// The install reports `reconcile boot serve --reports FILE` records: one JSON line per report,
/// `{"node":…,"report":{…}}`, in a file that rotates by size.
///
/// When the next line would take the file past `maxSize`, it becomes `FILE.1` (an older `FILE.1` becomes
/// `FILE.2`, and so on; the `keep`-th is deleted) and a new `FILE` is started, as logrotate's `size` rule
/// would do: a node that reports every few seconds for months cannot fill the disk.
public actor ReportFile {
    /// The file written to.
    public let path: String
    /// Largest size, in bytes, the file reaches before it rotates (a single longer line still goes in whole).
    public let maxSize: Int64
    /// Rotated files kept (`FILE.1` … `FILE.keep`).
    public let keep: Int
    private var handle: FileHandle
    private var size: Int64

    /// Opens (creating it when absent) `path` for appending.
    public init(path: String, maxSize: Int64, keep: Int) throws(ReportFileError) {
        self.path = path
        self.maxSize = maxSize
        self.keep = max(0, keep)
        (handle, size) = try Self.open(path)
    }

    private static func open(_ path: String) throws(ReportFileError) -> (FileHandle, Int64) {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ReportFileError("cannot create the reports file \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ReportFileError("cannot write the reports file \(path)")
        }
        return (handle, Int64(handle.seekToEndOfFile()))
    }

    struct Line: Encodable {
        var node: String
        var report: InstallReport
    }

    /// Appends one report as a line, rotating first when the line would not fit.
    public func append(node: String, report: InstallReport) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(Line(node: node, report: report))
        data.append(0x0A)
        if size > 0, size + Int64(data.count) > maxSize { try rotate() }
        try handle.write(contentsOf: data)
        try handle.synchronize()
        size += Int64(data.count)
    }

    /// Shifts `FILE.n` to `FILE.n+1` (dropping the last), `FILE` to `FILE.1`, and starts an empty `FILE`.
    private func rotate() throws(ReportFileError) {
        try? handle.close()
        let files = FileManager.default
        if keep == 0 {
            try? files.removeItem(atPath: path)
        } else {
            try? files.removeItem(atPath: "\(path).\(keep)")
            for index in stride(from: keep - 1, through: 1, by: -1) where files.fileExists(atPath: "\(path).\(index)") {
                guard rename("\(path).\(index)", "\(path).\(index + 1)") == 0 else {
                    throw ReportFileError("cannot rotate \(path).\(index): errno \(errno)")
                }
            }
            guard rename(path, "\(path).1") == 0 else { throw ReportFileError("cannot rotate \(path): errno \(errno)") }
        }
        (handle, size) = try Self.open(path)
    }
}

/// Why the reports file cannot be opened or rotated.
public struct ReportFileError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}
