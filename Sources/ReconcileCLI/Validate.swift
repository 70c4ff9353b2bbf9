import ArgumentParser
import CommandLineSupport
import Foundation
import Reconciler

/// `reconcile validate PATH`: load a site directory and report every diagnostic, or a one-line summary.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a site directory and print located diagnostics; exit 1 if any error is found.")

    @Argument(help: "Directory (or file) holding the site's YAML.")
    var path: String

    /// `-o json` prints the verdict, the counts and every diagnostic as one document (also when invalid).
    @OptionGroup var output: OutputOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let result = SiteLoader.load(path: path)
        if output.output == .json {
            try output.emit(try OutputOptions.jsonDocument(Report(path: path, result: result)))
            if result.state == nil { throw ExitCode.failure }
            Terminal.finish(0)
        }
        if !result.diagnostics.isEmpty {
            Terminal.standardError.write(result.renderDiagnostics(colour: Terminal.standardError.isTerminal))
        }
        guard let state = result.state else {
            let errors = result.diagnostics.filter { $0.severity == .error }.count
            Terminal.standardError.write("\(errors) error\(errors == 1 ? "" : "s") in \(path); nothing was applied.\n")
            throw ExitCode.failure
        }
        try output.emit(Summary(state: state, files: result.files.count).line(path: path) + "\n")
        Terminal.finish(0)
    }

    /// What `-o json` prints: whether the site is valid, what it holds, and each located diagnostic.
    struct Report: Encodable {
        var path: String
        var valid: Bool
        var site: String?
        var racks: Int?
        var nodes: Int?
        var images: Int?
        var services: Int?
        var files: Int
        var diagnostics: [Diagnostic]

        init(path: String, result: LoadResult) {
            self.path = path
            valid = result.state != nil
            site = result.state?.site.name
            racks = result.state?.racks.count
            nodes = result.state?.nodes.count
            images = result.state?.images.count
            services = result.state?.services.count
            files = result.files.count
            diagnostics = result.diagnostics
        }
    }
}

/// Counts of what a site holds, as one line.
struct Summary {
    let state: DesiredState
    let files: Int

    func line(path: String) -> String {
        "\(path): valid: site '\(state.site.name)', \(count(state.racks.count, "rack")), "
            + "\(count(state.nodes.count, "node")), \(count(state.images.count, "image")), "
            + "\(count(state.services.count, "service")) in \(count(files, "file"))"
    }

    private func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
