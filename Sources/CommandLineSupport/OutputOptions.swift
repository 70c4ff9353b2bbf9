import ArgumentParser
import Foundation

/// The output formats every command that prints a result offers.
public enum OutputFormat: String, Sendable, CaseIterable, ExpressibleByArgument {
    case text
    case json
}

/// `-o, --output text|json` and `--out-file FILE`, the same on every command that prints a result.
///
/// A server (`console`, `boot serve`, `seed`) prints status lines rather than one result: with `-o json` each is
/// one JSON object on its own line, and `--out-file` holds the latest (see `line(_:_:)`).
public struct OutputOptions: ParsableArguments, Sendable {
    @Option(name: [.short, .long], help: "Output format: text or json.")
    public var output: OutputFormat = .text

    @Option(help: "Write the output to FILE (replaced whole, never half-written) instead of standard output.")
    public var outFile: String?

    public init() {}

    /// Whether the output goes to a terminal (and may use colour).
    public var toTerminal: Bool { outFile == nil && output == .text && isatty(1) == 1 }

    /// Writes one line: `text` with `-o text`, `fields` as one JSON object on one line with `-o json`. A command
    /// with a one-line result prints it so; a server prints its status lines so (its address, a seed's progress),
    /// and with `--out-file` the file holds the latest line, replaced whole, so a script can wait for it and read
    /// the port a server picked.
    public func line(_ text: String, _ fields: some Encodable) throws {
        switch output {
        case .text: try emit(text + "\n")
        case .json: try emit(try Self.jsonLine(fields) + "\n")
        }
    }

    /// `value` as JSON on one line, keys sorted: the form of every `-o json` status line.
    public static func jsonLine(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// `value` as indented JSON with sorted keys and a final newline: the form of every `-o json` result.
    public static func jsonDocument(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Writes `text` to `--out-file` or to standard output.
    ///
    /// A regular file (or a new one) is replaced through a temporary file renamed into place. Anything else that
    /// exists, such as `/dev/null`, a FIFO or a terminal, is written in place: renaming over it would replace the
    /// device itself.
    public func emit(_ text: String) throws {
        guard let outFile else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            var status = stat()
            if stat(outFile, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
                guard let handle = FileHandle(forWritingAtPath: outFile) else {
                    throw CocoaError(.fileWriteNoPermission)
                }
                defer { try? handle.close() }
                try handle.write(contentsOf: Data(text.utf8))
                return
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: outFile), options: .atomic)
        } catch {
            throw ValidationError("cannot write --out-file \(outFile): \(error.localizedDescription)")
        }
    }
}

/// The status line of a server once it listens: `{"event":"listening","url":…,"port":…}` with `-o json`.
public struct ListeningStatus: Encodable, Sendable {
    public var event = "listening"
    public var url: String
    public var port: Int
    /// What the server offers, in a word or two (the console's `read-only`, say).
    public var mode: String?

    public init(url: String, port: Int, mode: String? = nil) {
        self.url = url
        self.port = port
        self.mode = mode
    }
}

extension ArgumentHelp {
    /// Help for a time flag, whose value reads in the one duration grammar (`90`, `90s`, `5m`, `1h30m`): the value
    /// shows as `<duration>` in help and man pages, and `DurationFlagTests` finds every time flag by it.
    public static func duration(_ abstract: String, discussion: String = "") -> ArgumentHelp {
        ArgumentHelp(abstract, discussion: discussion, valueName: "duration")
    }
}
