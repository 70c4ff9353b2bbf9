import Foundation
import LabSupport

/// A real `ipmi_sim` BMC (openipmi) on 127.0.0.1 in its own temp directory, with a chassis hook that records
/// every power and boot change to a file the test can read. Stopped and removed by `stop()` (call it in `defer`).
final class IPMISimulator: @unchecked Sendable {
    let port: Int
    let directory: URL
    let username = "admin"
    let password: String
    private let pid: pid_t
    private var group: pid_t = 0

    /// The lab script that writes the simulator's config and hook and starts it (shared with `make demo`).
    static let script = URL(fileURLWithPath: packageRoot + "/scripts/lab/ipmi-bmc.sh")

    /// Starts one simulated BMC (user `admin`) and waits (without blocking a thread) until its UDP port is bound.
    static func start(password: String = "pass") async throws -> IPMISimulator {
        let sim = try await IPMISimulator(password: password)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while !udpPortIsBound(sim.port) {
            guard ContinuousClock.now < deadline, sim.isRunning else {
                sim.stop()
                throw SimulatorError(message: "ipmi_sim did not bind 127.0.0.1:\(sim.port)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return sim
    }

    private init(password: String) async throws {
        self.port = try freePort(udp: true)
        self.password = password
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rackswarm-ipmisim-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let launcher = try await runProcess("/bin/bash", [Self.script.path, directory.path, "\(port)", password])
        guard launcher.status == 0, let pid = pid_t(launcher.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw SimulatorError(message: "scripts/lab/ipmi-bmc.sh failed: \(launcher.stdout)\(launcher.stderr)") }
        self.pid = pid
        // The simulator outlives its launcher, in the launcher's process group: the runner's watchdog kills that
        // group if this test process dies before `stop()`.
        group = getpgid(pid)
        if group > 0 { ChildWatchdog.shared.watch(group) }
    }

    private var isRunning: Bool { kill(pid, 0) == 0 }

    /// Kills the simulator by PID (it ignores SIGTERM) and removes its directory.
    func stop() {
        kill(pid, SIGKILL)
        if group > 0 { ChildWatchdog.shared.forget(group) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The `ipmi://` URL of this BMC.
    var url: String { "ipmi://127.0.0.1:\(port)" }

    /// The power state the hook holds ("0" or "1").
    var hookPower: String {
        (try? String(contentsOf: directory.appendingPathComponent("power"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Every `set` the hook received, one per line (`power 1`, `boot pxe`, ...).
    var hookLog: [String] {
        ((try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }
}

struct SimulatorError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
