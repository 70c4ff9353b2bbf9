import Foundation
import LabSupport

/// A BMC that offers cipher suite 17: pyghmi's BMC server on ::1 (`Support/pyghmi_bmc.py`), accepting only
/// the suites given. It writes every chassis change to a file. Stop it with `stop()` in `defer`.
final class PyghmiBMC: @unchecked Sendable {
    let port: Int
    let directory: URL
    let username = "admin"
    let password = "pass"
    private let process: LabProcess

    static let script = packageRoot + "/Tests/PowerTests/Support/pyghmi_bmc.py"

    static func start(suites: String) async throws -> PyghmiBMC {
        let bmc = try PyghmiBMC(suites: suites)
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        // "ready" is written once the socket is bound (on ::1, which an IPv4 probe does not see).
        while !bmc.log.contains("ready") {
            guard ContinuousClock.now < deadline, bmc.process.isRunning else {
                bmc.stop()
                throw SimulatorError(message: "pyghmi_bmc.py did not start on [::1]:\(bmc.port)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return bmc
    }

    private init(suites: String) throws {
        port = try freePort(udp: true)
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rackswarm-pyghmi-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process = try LabProcess(SushyEmulator.python, [Self.script, "\(port)", username, password, suites,
                                                        directory.appendingPathComponent("state").path],
                                 outputFile: "/dev/null", errorFile: directory.appendingPathComponent("stderr").path)
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the Python process wrote on standard error (tracebacks), for failure messages.
    var errors: String {
        (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
    }

    var url: String { "ipmi://[::1]:\(port)" }

    /// Every chassis change the BMC was told, one per line (`power on`, `boot network`).
    var log: [String] {
        ((try? String(contentsOf: directory.appendingPathComponent("state"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// `ipmitool -I lanplus -C SUITE` against this BMC: the reference client.
    func ipmitool(suite: Int, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await runProcess("/usr/bin/timeout", ["30", "ipmitool", "-I", "lanplus", "-H", "::1", "-p",
                                                         "\(port)", "-U", username, "-P", password, "-C", "\(suite)",
                                                         "-R", "3", "-N", "2"] + arguments)
        return (result.status, result.stdout + result.stderr)
    }
}
