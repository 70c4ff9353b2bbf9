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

    /// Writes `text` to `--out-file` (through a temporary file renamed into place) or to standard output.
    public func emit(_ text: String) throws {
        guard let outFile else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: outFile), options: .atomic)
        } catch {
            throw ValidationError("cannot write --out-file \(outFile): \(error.localizedDescription)")
        }
    }
}
