import Foundation
import LabSupport
import Reconciler
import Testing

/// The systemd units under deploy/systemd as the package installs them: what the reconciler's unit promises an
/// operator (state under /var/lib/rackswarm, a stop that lets a pass finish, restarts, hardening), checked in the
/// files and by systemd-analyze.
struct UnitFileTests {
    /// `Key=value` lines of a unit, every value of a repeated key in order.
    static func settings(_ unit: String) throws -> [String: [String]] {
        let text = try String(contentsOfFile: packageRoot + "/deploy/systemd/" + unit, encoding: .utf8)
        var settings: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    /// A systemd time span such as `1h`, `90min`, `30s` or `1h 30min`, in seconds.
    static func seconds(_ span: String) -> Int? {
        let units = ["h": 3600, "min": 60, "m": 60, "s": 1]
        var total = 0
        for part in span.split(separator: " ") {
            let digits = part.prefix { $0.isNumber }
            guard let value = Int(digits), let unit = units[String(part.dropFirst(digits.count))] else { return nil }
            total += value * unit
        }
        return total
    }

    @Test func theReconcilerUnitRunsTheLoopWithItsStateUnderVarLibAndStopsAfterTheStepInFlight() throws {
        let unit = try Self.settings("rackswarm-reconciler.service")
        #expect(unit["ExecStart"] == ["/usr/bin/reconcile apply --loop"])
        #expect(unit["StateDirectory"] == ["rackswarm"])
        #expect(unit["WorkingDirectory"] == ["/var/lib/rackswarm"])
        let environment = (unit["Environment"] ?? []).joined(separator: " ")
        #expect(environment.contains("RACKSWARM_STATE=/var/lib/rackswarm/state.db"))
        #expect(environment.contains("RACKSWARM_CACHE=/var/lib/rackswarm/cache"))
        #expect(environment.contains("RACKSWARM_LOG_FORMAT=json"), "journald gets JSON lines")
        #expect(unit["Restart"] == ["on-failure"])
        #expect(unit["KillSignal"] == ["SIGTERM"])
        // SIGTERM lets the steps in flight finish; the slowest are bounded by the site's step timeouts. With the
        // built-in ones, a node's power, install and services steps all fit before systemd's SIGKILL.
        let stop = try #require(unit["TimeoutStopSec"]?.first.flatMap(Self.seconds))
        let defaults = StepTimeouts.defaults
        let step = (defaults.power * 2 + defaults.install + defaults.services).components.seconds
        #expect(Int64(stop) > step, "TimeoutStopSec=\(stop)s, a wave's steps may take \(step)s")
        // Hardening that keeps BMC (UDP, HTTPS) and DHCP (netlink, signalling dnsmasq) reachable.
        #expect(unit["ProtectSystem"] == ["strict"] && unit["NoNewPrivileges"] == ["yes"])
        #expect(unit["PrivateNetwork"] == nil && unit["IPAddressDeny"] == nil)
        let families = (unit["RestrictAddressFamilies"]?.first ?? "").split(separator: " ")
        for family in ["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"] { #expect(families.contains(Substring(family))) }
        #expect(unit["CapabilityBoundingSet"]?.first?.contains("CAP_KILL") == true)
    }

    @Test func theAgentUnitServesAndRestarts() throws {
        let unit = try Self.settings("provision-agent.service")
        #expect(unit["ExecStart"]?.first?.hasPrefix("/usr/bin/provision-agent serve ") == true)
        #expect(unit["Restart"] == ["on-failure"])
        #expect(unit["StateDirectory"] == ["provision-agent"])
    }

    /// systemd's own assessment of the sandbox: the reconciler's unit must stay at "OK" or better (it needs the
    /// network and a few capabilities, so it cannot be fully locked down).
    @Test func systemdRatesTheReconcilersSandboxAtLeastOK() async throws {
        let unit = packageRoot + "/deploy/systemd/rackswarm-reconciler.service"
        let result = await runCommand("/usr/bin/systemd-analyze",
                                      ["security", "--offline=yes", "--no-pager", unit], timeout: 60)
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") },
                                "\(result.output)")
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        #expect((score ?? 10) <= 5.0, "\(line)")
        #expect(line.contains(" OK") || line.contains("SAFE"), "\(line)")
    }
}
