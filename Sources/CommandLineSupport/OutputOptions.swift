import ArgumentParser
import Foundation

/// The output formats every command that prints a result offers.
public enum OutputFormat: String, Sendable, CaseIterable, ExpressibleByArgument {
    case text
    case json
}

/// `-o, --output text|json` and `--out-file FILE`, the same on every command that prints a result.
public struct OutputOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Output format: text or json.")
    public var output: OutputFormat = .text

    @Option(help: "Write the output to FILE (replaced whole, never half-written) instead of standard output.")
    public var outFile: String?

    public init() {}

    /// Whether the output goes to a terminal (and may use colour).
    public var toTerminal: Bool { outFile == nil && output == .text && isatty(1) == 1 }

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
