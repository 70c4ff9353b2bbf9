import ArgumentParser
import AsyncHTTPClient
import CommandLineSupport
import Drivers
import Foundation
import NIOCore
import NIOHTTP1

/// Where a running reconciler's console API is, and the operator token its actions need.
struct OperatorAPIOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The running reconciler's HTTP server, e.g. http://10.0.0.1:8080 (default: $RACKSWARM_SERVER).",
        discussion: "A URL with a path (http://HOST:8088/) is a console's root, as `reconcile console` serves it."))
    var server: String?

    @Option(help: "The operator token, as env:NAME or file:PATH (default: env:RACKSWARM_TOKEN).")
    var token: String?

    func validate() throws {
        if let token, SecretReference(parsing: token) == nil {
            throw ValidationError("--token takes env:NAME or file:PATH, never the token itself")
        }
    }

    /// The API base URL: `URL/console/api/v1` for a reconciler's server (`http://HOST:PORT`), or `URL/api/v1`
    /// when the URL names the console's root itself (`http://HOST:8088/` for `reconcile console`).
    func base() throws -> String {
        guard var url = server ?? ProcessInfo.processInfo.environment["RACKSWARM_SERVER"], !url.isEmpty else {
            throw ValidationError("say which reconciler: --server http://HOST:PORT (or set RACKSWARM_SERVER)")
        }
        if !url.contains("://") { url = "http://" + url }
        let afterScheme = url[(url.range(of: "://")?.upperBound ?? url.startIndex)...]
        let hasPath = afterScheme.contains("/")
        while url.hasSuffix("/") { url.removeLast() }
        return url + (hasPath ? "" : "/console") + "/api/v1"
    }

    func bearer() throws -> String {
        let reference = token.flatMap(SecretReference.init(parsing:)) ?? .environment("RACKSWARM_TOKEN")
        do {
            return try reference.resolve().trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ValidationError("no operator token: \(error) (pass --token env:NAME or file:PATH)")
        }
    }

    /// POSTs an action; prints the reconciler's answer. A refusal (401, 403, 404) exits 1 with its message.
    func post(_ path: String, output: OutputOptions) async throws {
        let url = try base() + path
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + (try bearer()))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Self.failure("cannot reach the reconciler at \(url): \(error)")
        }
        let text = String(buffer: body)
        struct Message: Decodable { var message: String }
        let message = (try? JSONDecoder().decode(Message.self, from: Data(text.utf8)))?.message ?? text
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Self.failure("the reconciler refused (\(response.status.code)): \(message)")
        }
        switch output.output {
        case .text: try output.emit(message + "\n")
        case .json: try output.emit(text.hasSuffix("\n") ? text : text + "\n")
        }
    }
}

extension OperatorAPIOptions {
    /// Says what went wrong on standard error; the command exits 1.
    static func failure(_ text: String) -> ExitCode {
        Terminal.standardError.write("error: \(text)\n")
        return ExitCode.failure
    }
}

/// What `suspend` and `resume` take: the rack, and how to reach the reconciler and print its answer.
struct RackRequestOptions: ParsableArguments {
    @Argument(help: "The rack.") var rack: String
    @OptionGroup var api: OperatorAPIOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LoggingOptions

    /// Posts `/racks/RACK/VERB` to the running reconciler.
    func post(_ verb: String) async throws {
        let escaped = rack.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? rack
        try await api.post("/racks/\(escaped)/\(verb)", output: output)
    }
}

/// `reconcile suspend RACK`: a running reconciler leaves the rack's nodes alone until it is resumed.
struct Suspend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend",
        abstract: "Suspend a rack on a running reconciler: its passes leave the rack's nodes alone.")

    @OptionGroup var request: RackRequestOptions

    func run() async throws { try await request.post("suspend") }
}

/// `reconcile resume RACK`: undoes `suspend`.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a suspended rack on a running reconciler.")

    @OptionGroup var request: RackRequestOptions

    func run() async throws { try await request.post("resume") }
}

/// `reconcile pass`: asks a running reconciler for a pass now instead of at its next interval.
struct RequestPass: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pass",
        abstract: "Ask a running reconciler (apply --loop) for a pass now.")

    @OptionGroup var api: OperatorAPIOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws { try await api.post("/pass", output: output) }
}
