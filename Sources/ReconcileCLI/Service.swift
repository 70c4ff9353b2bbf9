import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import Logging
import RackswarmCore
import Reconciler

/// `reconcile service NODE {install|uninstall|status|restart} SERVICE`: one ad-hoc request to a node's agent.
struct Service: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Send one service request to a node's provision-agent and print its answer.",
        discussion: """
            The node's agent is NODE's IP at --agent-port, from the site in --site, or --agent HOST:PORT. \
            The software list is SERVICE's from the site, or the JSON in --definition; without either, \
            the agent uses the list it recorded at install. Exit status: 0 when the agent answers ok, \
            1 for any other answer or error.
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case install, uninstall, status, restart
    }

    @Argument(help: "The node, e.g. node17.")
    var node: String

    @Argument(help: "install, uninstall, status or restart.")
    var action: Action

    @Argument(help: "The service, e.g. vod.")
    var service: String

    @Option(help: "Site directory to resolve NODE and SERVICE from.")
    var site: String?

    @Option(help: "Talk to this agent (HOST:PORT) instead of the node's address from the site.")
    var agent: String?

    @Option(help: "Agent port used with a node's IP from the site (default: the site's agent.port).")
    var agentPort: Int?

    @Option(help: "JSON service definition ({name, software: [{name, rpm, order, script, process}], repositories}).")
    var definition: String?

    @Option(help: "File holding the site key the agents' keys derive from (default: the site's agent.keyFile).")
    var keyFile: String?

    @Option(help: .duration("How long to wait for the answer (e.g. 900, 15m)."), transform: Quantity.durationFlag())
    var timeout: Duration = .seconds(900)

    /// `-o json` prints the answer's report as JSON.
    @OptionGroup var output: OutputOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let agent, AgentAddress(parsing: agent) == nil { throw ValidationError("--agent must be HOST:PORT") }
        guard agent != nil || site != nil else { throw ValidationError("give --site DIR or --agent HOST:PORT") }
        guard keyFile != nil || site != nil else { throw ValidationError("give --key-file, or --site to use its key") }
    }

    func run() async throws {
        var address = agent.flatMap(AgentAddress.init(parsing:))
        var serviceDefinition: ServiceDefinition?
        if let definition {
            let text = try String(contentsOfFile: definition, encoding: .utf8)
            guard let parsed = ServiceDefinition(jsonText: text) else {
                throw ValidationError("\(definition) is not a service definition")
            }
            serviceDefinition = parsed
        }
        var siteKeyFile: String?
        if let site {
            let result = SiteLoader.load(path: site)
            guard let state = result.state else {
                Terminal.standardError.write(result.renderDiagnostics(colour: Terminal.standardError.isTerminal))
                throw ExitCode.failure
            }
            guard let nodeModel = state.node(named: node) else { throw ValidationError("no node \(node) in \(site)") }
            guard let serviceModel = state.service(named: service) else {
                throw ValidationError("no service \(service) in \(site)")
            }
            if address == nil {
                address = AgentAddress(host: "\(nodeModel.ip.value)", port: agentPort ?? state.site.agent.port)
            }
            siteKeyFile = state.site.agent.keyFile
            if serviceDefinition == nil { serviceDefinition = ServiceDefinition(serviceModel) }
        }
        guard let address else { throw ValidationError("no agent address for \(node)") }
        if action == .install, serviceDefinition == nil {
            Terminal.standardError.write("note: no software list given; the agent uses the one it recorded\n")
        }
        guard let keyPath = keyFile ?? siteKeyFile else { throw ValidationError("no site key file") }
        // Each node's agent holds its own key, derived from the site key and the node's name.
        let key = try SiteKey(contentsOfFile: keyPath).agentKey(forNode: node)
        let client = ServiceAgentClient(
            address: address, key: key, timeout: timeout, logger: Logger(label: "reconcile.service"))
        do {
            let answer = try await client.request(
                ServiceCommand(rawValue: action.rawValue), node: node, service: service, definition: serviceDefinition)
            try output.emit(Self.render(answer, json: output.output == .json) + "\n")
            if answer.code != .ok { throw ExitCode.failure }
        } catch let error as ServiceAgentError {
            Terminal.standardError.write("\(node) \(action.rawValue) \(service): \(error)\n")
            throw ExitCode.failure
        }
    }

    /// The answer as a headline and one line per software.
    static func render(_ answer: ServiceAnswer, json: Bool) -> String {
        let message = answer.message
        var lines = ["\(message.node) \(message.command) \(message.service): \(answer.code.rawValue): \(answer.detail)"]
        if json, let report = answer.report {
            lines.append(report.jsonText())
        } else if let report = answer.report {
            for state in report.software {
                var line = "  \(state.name)  \(state.rpm)  \(state.installed ?? "not installed")"
                if let process = state.process {
                    let pids = state.pids.map(String.init).joined(separator: ",")
                    line += state.pids.isEmpty ? "  \(process): not running" : "  \(process): pid \(pids)"
                }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }
}

