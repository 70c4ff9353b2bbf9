import Foundation

/// Where a value came from: a file, a 1-based line and a 1-based column.
///
/// The file is held by its number in `SourceFiles`, so a location is 12 bytes and copying one retains nothing: a
/// site of 100,000 nodes carries about a million of them. It reads, compares, hashes and encodes as the file name.
public struct SourceLocation: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The file's number in `SourceFiles`.
    public private(set) var fileID: SourceFiles.ID
    private var storedLine: Int32
    private var storedColumn: Int32

    public var file: String {
        get { SourceFiles.name(fileID) }
        set { fileID = SourceFiles.intern(newValue) }
    }

    public var line: Int {
        get { Int(storedLine) }
        set { storedLine = Int32(clamping: newValue) }
    }

    public var column: Int {
        get { Int(storedColumn) }
        set { storedColumn = Int32(clamping: newValue) }
    }

    public init(file: String, line: Int, column: Int) {
        self.init(fileID: SourceFiles.intern(file), line: Int32(clamping: line), column: Int32(clamping: column))
    }

    /// A location in a file already interned (the loader interns each file once).
    public init(fileID: SourceFiles.ID, line: Int32, column: Int32) {
        self.fileID = fileID
        storedLine = line
        storedColumn = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        if lhs.fileID == rhs.fileID { return (lhs.storedLine, lhs.storedColumn) < (rhs.storedLine, rhs.storedColumn) }
        return (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }

    private enum CodingKeys: String, CodingKey {
        case file
        case line
        case column
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(file: try container.decode(String.self, forKey: .file),
                  line: try container.decode(Int.self, forKey: .line),
                  column: try container.decode(Int.self, forKey: .column))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(line, forKey: .line)
        try container.encode(column, forKey: .column)
    }
}

/// The process's table of source file names: each name gets a number once and keeps it, so equal numbers mean
/// equal names.
public enum SourceFiles {
    public typealias ID = UInt32

    private final class Table: @unchecked Sendable {
        let lock = NSLock()
        var names: [String] = []
        var ids: [String: ID] = [:]
    }

    private static let table = Table()

    /// The number of `name`, given it on first use.
    public static func intern(_ name: String) -> ID {
        table.lock.withLock {
            if let id = table.ids[name] { return id }
            let id = ID(table.names.count)
            table.names.append(name)
            table.ids[name] = id
            return id
        }
    }

    /// The name numbered `id`.
    public static func name(_ id: ID) -> String {
        table.lock.withLock { table.names[Int(id)] }
    }
}
