import ArgumentParser
import Foundation
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LineLogHandler.Format: ExpressibleByArgument {}

/// `--log-level` and `--log-format`, shared by every command of both executables.
public struct LoggingOptions: ParsableArguments {
    @Option(help: "Least severe log level written: trace, debug, info, notice, warning, error or critical.")
    public var logLevel: Logger.Level?

    @Option(help: "Log lines as text, or json (one object per line, for journald and Loki).")
    public var logFormat: LineLogHandler.Format?

    public init() {}

    /// Routes swift-log to standard error at the chosen level and format; `verbose` (a command's own `--verbose`)
    /// lowers the default to debug.
    public func bootstrap(verbose: Bool = false) {
        Self.bootstrap(level: logLevel, format: logFormat, verbose: verbose)
    }

    /// Flags first, then `RACKSWARM_LOG_LEVEL` / `RACKSWARM_LOG_FORMAT` or the settings file, then info and text.
    static func bootstrap(level: Logger.Level?, format: LineLogHandler.Format?, verbose: Bool) {
        let level = level ?? Settings.value("log-level").flatMap(Logger.Level.init(rawValue:))
            ?? (verbose ? .debug : .info)
        let format = format ?? Settings.value("log-format").flatMap(LineLogHandler.Format.init(rawValue:))
            ?? .text
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, format: format) }
    }
}

/// `--verbose` for the long-running transfer commands: debug detail when no flag, environment variable or setting
/// names a level.
public struct VerboseOption: ParsableArguments {
    @Flag(help: "Log debug detail.")
    public var verbose = false

    public init() {}
}

/// A command whose log level, when no flag, environment variable or setting names one, is not info: one with a
/// `--verbose` flag (debug), or one whose standard error should stay quiet (warning).
public protocol DefaultLogLevel {
    /// The level used when none is set.
    var defaultLogLevel: Logger.Level { get }
}

extension LoggingOptions {
    /// Bootstraps logging from the parsed command's `logging` options (every command of both executables has
    /// them; a test walks the command tree to keep it so). A command group without them logs at the defaults.
    public static func bootstrap(for command: any ParsableCommand) {
        let children = Mirror(reflecting: command).children
        let options = children.lazy.compactMap { ($0.value as? OptionGroup<LoggingOptions>)?.wrappedValue }.first
        let verbose = children.contains { ($0.value as? OptionGroup<VerboseOption>)?.wrappedValue.verbose == true }
        let fallback: Logger.Level = verbose ? .debug : (command as? any DefaultLogLevel)?.defaultLogLevel ?? .info
        let level = options?.logLevel ?? Settings.value("log-level").flatMap(Logger.Level.init(rawValue:)) ?? fallback
        bootstrap(level: level, format: options?.logFormat, verbose: false)
    }
}

extension LoggingOptions {
    /// An executable's `main`: parses the command line, bootstraps logging for the chosen command, runs it.
    public static func main(_ root: any ParsableCommand.Type) async {
        do {
            var command = try root.parseAsRoot()
            let problems = Settings.check()
            guard problems.isEmpty else {
                FileHandle.standardError.write(Data((problems.joined(separator: "\n") + "\n").utf8))
                root.exit(withError: ExitCode.failure)
            }
            bootstrap(for: command)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            root.exit(withError: error)
        }
    }
}
