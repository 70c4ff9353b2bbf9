import Foundation

/// The agent's own Prometheus metrics: what it answered, and whether each recorded service still is as it was
/// installed (its RPMs present, its processes alive), read live from the RPM database and the process table at
/// each scrape, as `status` does.
public actor AgentMetrics {
    private var answers: [Answered: Int] = [:]
    private let version: String
    private let commit: String

    private struct Answered: Hashable {
        var command: String
        var code: String
    }

    /// Metrics for an agent built as `version` from `commit`.
    public init(version: String, commit: String) {
        self.version = version
        self.commit = commit
    }

    /// Counts one answer the agent gave. Commands it does not know count as `other`: a client cannot grow the
    /// label set.
    public func count(_ answer: ServiceMessage) {
        let command = answer.command.isKnown ? answer.command.rawValue : "other"
        answers[Answered(command: command, code: answer.code?.rawValue ?? "none"), default: 0] += 1
    }

    /// The text exposition format (version 0.0.4) for `inventory`, taken now.
    public func render(_ inventory: NodeInventory) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        family("rackswarm_agent_build_info", "gauge", "The agent's version and the commit it was built from.",
               [("{version=\"\(Self.escape(version))\",commit=\"\(Self.escape(commit))\"}", "1")])
        family("rackswarm_agent_services", "gauge", "Services recorded on this node (installed by the reconciler).",
               [("", "\(inventory.services.count)")])
        let services = inventory.services.sorted { $0.service < $1.service }
        func perService(_ value: (ServiceReport) -> Int) -> [(labels: String, value: String)] {
            services.map { ("{service=\"\(Self.escape($0.service))\"}", "\(value($0))") }
        }
        family("rackswarm_agent_service_rpms_missing", "gauge",
               "RPMs of a recorded service that are not installed.",
               perService { $0.software.count { $0.installed == nil } })
        family("rackswarm_agent_service_processes_down", "gauge",
               "Named processes of a recorded service that do not run although their RPM is installed.",
               perService { $0.software.count { $0.installed != nil && $0.process != nil && $0.pids.isEmpty } })
        family("rackswarm_agent_service_drifted", "gauge",
               "1 when a recorded service drifted from its install (an RPM missing or a process down), else 0.",
               perService { $0.isHealthy ? 0 : 1 })
        family("rackswarm_agent_installed_packages", "gauge", "RPMs installed on the node.",
               [("", "\(inventory.packages.count)")])
        family("rackswarm_agent_requests_total", "counter", "Requests answered, by command and answer code.",
               answers.sorted { ($0.key.command, $0.key.code) < ($1.key.command, $1.key.code) }.map {
                   ("{command=\"\(Self.escape($0.key.command))\",code=\"\(Self.escape($0.key.code))\"}", "\($0.value)")
               })
        return out
    }

    /// A label value with `\`, `"` and line feeds escaped, as the exposition format wants.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
