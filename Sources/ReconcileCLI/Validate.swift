import ArgumentParser

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a site directory and print diagnostics.")

    @Argument(help: "Directory holding the site's YAML files.")
    var path: String

    func run() async throws {}
}
