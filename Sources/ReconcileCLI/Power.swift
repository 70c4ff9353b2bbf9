import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import Logging
import RackswarmCore
import Reconciler

/// `reconcile power`: read or change the power and next boot device of nodes through their BMCs.
struct Power: AsyncParsableCommand, DefaultLogLevel {
    static let configuration = CommandConfiguration(
        commandName: "power",
        abstract: "Read or change node power and next boot device through their BMCs (IPMI, Redfish, iLO).",
        discussion: """
            ACTION is one of: \(PowerCommandAction.allCases.map(\.rawValue).joined(separator: ", ")).
            Nodes of the site: reconcile power --repo . --path examples/datacenter r1n1 r1n2 status
            One or more BMCs: reconcile power --bmc ipmi://10.0.0.5 --credentials env:BMC_PASS status
            Every node of the site: reconcile power --repo . --path examples/datacenter --all status
            """
    )

    @Option(
        name: .customLong("bmc"), help: "A BMC URL (ipmi://, redfish+https://, redfish+http://, ilo://); repeatable.")
    var bmcs: [String] = []

    @Option(help: ArgumentHelp("A file of BMC URLs, one a line (words after the URL are ignored), as --bmc each; "
                               + "for thousands of BMCs."))
    var bmcList: String?

    @Flag(help: "Every present node of the site (instead of naming nodes).")
    var all = false

    @Option(help: "BMC user name for --bmc.")
    var username = "admin"

    @Option(help: "Where the BMC password is: env:NAME or file:PATH (never the password itself).")
    var credentials: String?

    @OptionGroup(title: "Site (to resolve NODE names)")
    var source: SourceOptions

    @Flag(help: "Skip TLS certificate verification (self-signed BMCs).")
    var insecure = false

    @Flag(help: "Make a boot device override persistent instead of next-boot only.")
    var persistent = false

    @Option(help: .duration("How long to wait for one BMC answer before a retransmit (e.g. 1, 500ms); default: "
                               + "the site's timeouts.bmcRequest for NODE names, 1s for --bmc."),
            transform: Quantity.durationFlag())
    var timeout: Duration?

    @Option(help: ArgumentHelp("Retransmits/retries after a timeout or transient failure (0 to 100); default: the "
                               + "site's timeouts.bmcRetries for NODE names, 3 for --bmc."))
    var retries: Int?

    @Option(name: .customLong("ipmi-cipher-suites"),
            help: "IPMI cipher suites allowed for --bmc, strongest first (17,3); 17 alone forbids suite 3.")
    var cipherSuites = "17,3"

    @Option(help: ArgumentHelp("How many BMCs to talk to at once (1 to 65536); one silent for a whole "
                               + "--timeout stops counting, up to 32 times as many waiting."))
    var concurrency = 256

    @OptionGroup var output: OutputOptions

    @Flag(name: .shortAndLong, help: "Log protocol details to standard error.")
    var verbose = false

    /// Debug with `--verbose`, else warning: standard error holds only what went wrong.
    var defaultLogLevel: Logger.Level { verbose ? .debug : .warning }

    @Argument(help: "Node names (resolved from --path), then the ACTION.")
    var arguments: [String] = []

    var action: PowerCommandAction? { arguments.last.flatMap(PowerCommandAction.init(rawValue:)) }
    var nodes: [String] { Array(arguments.dropLast()) }

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard let last = arguments.last else { throw ValidationError("missing ACTION (status, on, off, ...)") }
        guard action != nil else {
            throw ValidationError(
                "unknown action '\(last)'; expected one of "
                    + PowerCommandAction.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let byURL = !bmcs.isEmpty || bmcList != nil
        let bySite = !nodes.isEmpty || all
        if !byURL && !bySite { throw ValidationError("name nodes, or give --all, --bmc URL or --bmc-list FILE") }
        if byURL && bySite { throw ValidationError("give either nodes (or --all) or --bmc/--bmc-list, not both") }
        if all && !nodes.isEmpty { throw ValidationError("give either node names or --all, not both") }
        if byURL {
            guard let credentials else { throw ValidationError("--bmc needs --credentials env:NAME or file:PATH") }
            guard SecretReference(parsing: credentials) != nil else {
                throw ValidationError("--credentials must be env:NAME or file:PATH")
            }
        }
        guard (0...100).contains(retries ?? 0), (1...65536).contains(concurrency) else {
            throw ValidationError("--retries must be between 0 and 100, --concurrency between 1 and 65536")
        }
    }

    func run() async throws {
        let logger = Logger(label: "reconcile.power")
        guard let action else { throw ExitCode.validationFailure }
        let targets = try resolveTargets()
        let resources = PowerDriverResources()
        let registry = PowerDriverRegistry.standard
        let persistence: BootPersistence = persistent ? .persistent : .once
        let results = await boundedConcurrentMap(targets, limit: concurrency, executor: resources.executor) {
            target -> PowerResult in
            let started = ContinuousClock.now
            var result = PowerResult(target: target.name, bmc: target.shown, action: action.rawValue)
            do throws(PowerError) {
                let configuration = try target.configuration()
                let driver = try registry.driver(for: configuration, resources: resources, logger: logger)
                result.state = try await action.perform(on: driver, persistence: persistence)?.rawValue
                result.ok = true
            } catch {
                result.error = PowerResult.Failure(code: error.code.rawValue, detail: error.detail)
            }
            let elapsed = started.duration(to: .now).components
            result.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            return result
        }
        await resources.shutdown()
        try output.emit(PowerOutputFormat(output.output).render(results) + "\n")
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }

    /// Cipher suite numbers as the driver's suites; an unknown number is a usage error.
    private func suites(_ numbers: [Int]) throws -> [IPMICipherSuite] {
        let suites = numbers.compactMap(IPMICipherSuite.init(rawValue:))
        guard suites.count == numbers.count, !suites.isEmpty else {
            throw ValidationError("--ipmi-cipher-suites takes 17 and/or 3, as '17,3' or '17'")
        }
        return suites
    }

    /// The BMCs to talk to, with where their passwords are.
    private func resolveTargets() throws -> [PowerTarget] {
        if !bmcs.isEmpty || bmcList != nil {
            var bmcs = bmcs
            if let bmcList {
                let text: String
                do {
                    text = try String(contentsOfFile: bmcList, encoding: .utf8)
                } catch {
                    throw ValidationError("--bmc-list \(bmcList): cannot read it (\(error.localizedDescription))")
                }
                bmcs += text.split(whereSeparator: \.isNewline).compactMap { line in
                    line.split(whereSeparator: \.isWhitespace).first.map(String.init)
                }.filter { !$0.hasPrefix("#") }
            }
            guard let reference = credentials.flatMap(SecretReference.init(parsing:)) else {
                throw ValidationError("--credentials must be env:NAME or file:PATH")
            }
            let allowed = try suites(cipherSuites.split(separator: ",").map {
                Int($0.trimmingCharacters(in: .whitespaces)) ?? -1
            })
            let (username, insecure, timeout, retries) = (username, insecure, timeout ?? .seconds(1), retries ?? 3)
            return bmcs.map { url in
                PowerTarget(name: url, shown: (try? BMCAddress(parsing: url).description) ?? url) {
                    () throws(PowerError) -> BMCConfiguration in
                    let address = try BMCAddress(parsing: url)
                    let password: String
                    do throws(SecretError) {
                        password = try reference.resolve()
                    } catch {
                        throw PowerError(.authenticationFailed, bmc: "\(address)", error.description)
                    }
                    return BMCConfiguration(
                        address: address, username: username, password: password, insecureSkipVerify: insecure,
                        timeout: timeout, retries: retries, cipherSuites: allowed)
                }
            }
        }
        let (_, desired) = try source.loadSite(refusal: "no BMC was contacted")
        var targets: [PowerTarget] = []
        var problems: [String] = []
        let byName = Dictionary(desired.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let cipherSuites = desired.site.ipmiCipherSuites
        _ = try suites(cipherSuites)
        let names = all ? desired.nodes.filter { $0.state == .present }.map(\.name) : nodes
        for name in names {
            guard let node = byName[name] else {
                problems.append("no node named '\(name)' in the site")
                continue
            }
            guard node.bmc.password != nil else {
                problems.append("\(node.location): node '\(name)' has no BMC password reference (node or rack)")
                continue
            }
            // The typed BMC to the driver's configuration as a pass makes it (BMCConfiguration(node:)), with the
            // site's timeouts and cipher suites; flags override the timeouts, add a user name and skip TLS checks.
            var target = node
            target.bmc.username = node.bmc.username ?? username
            target.bmc.insecureSkipVerify = node.bmc.insecureSkipVerify || insecure
            var timeouts = desired.site.timeouts
            if let timeout { timeouts.bmcRequest = timeout }
            if let retries { timeouts.bmcRetries = retries }
            targets.append(PowerTarget(name: name, shown: BMCAddress(node.bmc.endpoint.value).description) {
                [target, timeouts] () throws(PowerError) -> BMCConfiguration in
                try BMCConfiguration(node: target, timeouts: timeouts, cipherSuites: cipherSuites)
            })
        }
        guard problems.isEmpty else {
            Terminal.standardError.write(problems.map { "error: \($0)\n" }.joined())
            throw ExitCode.failure
        }
        return targets
    }
}

/// The operator-facing actions of `reconcile power`.
enum PowerCommandAction: String, CaseIterable, ExpressibleByArgument, Sendable {
    case status
    case on
    case off
    case softOff = "soft-off"
    case cycle
    case reset
    case pxe
    case disk

    /// Runs the action; returns the power state for `status`.
    func perform(on driver: any PowerDriver, persistence: BootPersistence) async throws(PowerError) -> PowerState? {
        switch self {
        case .status: return try await driver.powerState()
        case .on: try await driver.setPower(.on)
        case .off: try await driver.setPower(.off)
        case .softOff: try await driver.setPower(.softOff)
        case .cycle: try await driver.setPower(.cycle)
        case .reset: try await driver.setPower(.reset)
        case .pxe: try await driver.setBootDevice(.pxe, persistence: persistence)
        case .disk: try await driver.setBootDevice(.disk, persistence: persistence)
        }
        return nil
    }
}

/// One BMC to act on, as shown in output (never credentials), and how to reach it: its driver configuration is
/// made, and its password read, only when the call starts.
struct PowerTarget: Sendable {
    let name: String
    let shown: String
    let configuration: @Sendable () throws(PowerError) -> BMCConfiguration
}

/// The outcome for one BMC, as printed.
struct PowerResult: Sendable, Codable {
    struct Failure: Sendable, Codable {
        var code: String
        var detail: String
    }

    var target: String
    var bmc: String
    var action: String
    var ok = false
    var state: String?
    var error: Failure?
    var seconds = 0.0
}

/// How `reconcile power` prints its results: `-o text` is a table.
enum PowerOutputFormat: String, Sendable {
    case table
    case json

    init(_ format: OutputFormat) {
        self = format == .json ? .json : .table
    }

    func render(_ results: [PowerResult]) throws -> String {
        switch self {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(results), as: UTF8.self)
        case .table:
            var rows = [["TARGET", "ACTION", "RESULT", "DETAIL"]]
            for result in results {
                let outcome = result.ok ? (result.state ?? "ok") : "error"
                let detail = result.error.map { "\($0.code): \($0.detail)" } ?? ""
                rows.append([result.target == result.bmc ? result.bmc : result.target, result.action, outcome, detail])
            }
            let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
            return rows.map { row in
                (0..<3).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ")
                    + "  " + row[3]
            }.joined(separator: "\n").replacingOccurrences(of: "  \n", with: "\n")
        }
    }
}
