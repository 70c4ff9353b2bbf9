import Foundation
import LabSupport

/// A real Redfish BMC: `sushy-emulator` (PyPI sushy-tools) with its fake driver on 127.0.0.1, basic auth from a
/// bcrypt htpasswd, optionally HTTPS with a fresh self-signed certificate. Stop it with `stop()` in `defer`.
final class SushyEmulator: @unchecked Sendable {
    let port: Int
    let directory: URL
    let tls: Bool
    private let process: LabProcess

    static let systemA = "27946b59-9e44-4fa7-8e91-f3527a1ef094"
    static let systemB = "38a57c6a-0f55-4b8a-9a2e-b6d3d5e0c1f2"

    /// The venv's Python: RACKSWARM_PYTHON (set by the Makefile), else `.venv/bin/python` in the package.
    static var python: String {
        if let path = ProcessInfo.processInfo.environment["RACKSWARM_PYTHON"], !path.isEmpty { return path }
        return packageRoot + "/.venv/bin/python"
    }

    /// Starts the emulator with one system (or two) and waits until it answers TCP connections.
    static func start(password: String = "pass", tls: Bool = false, twoSystems: Bool = false) async throws
        -> SushyEmulator
    {
        let sushy = try await SushyEmulator(password: password, tls: tls, twoSystems: twoSystems)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while !tcpPortAccepts(sushy.port) {
            guard ContinuousClock.now < deadline, sushy.process.isRunning else {
                let logFile = sushy.directory.appendingPathComponent("sushy.log")
                let log = try? String(contentsOf: logFile, encoding: .utf8)
                sushy.stop()
                throw SimulatorError(message: "sushy-emulator did not start: \(log?.suffix(600) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return sushy
    }

    private init(password: String, tls: Bool, twoSystems: Bool) async throws {
        port = try freePort()
        self.tls = tls
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rackswarm-sushy-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let htpasswd = directory.appendingPathComponent("htpasswd")
        try await run(Self.python, [
            "-c", "import bcrypt,sys;open(sys.argv[1],'w').write('admin:'+bcrypt.hashpw(sys.argv[2].encode(),"
                + "bcrypt.gensalt(rounds=4)).decode()+'\\n')", htpasswd.path, password,
        ])
        var systems = """
            {'uuid': '\(Self.systemA)', 'name': 'node-a', 'power_state': 'Off', 'external_notifier': False,
             'nics': [{'mac': '52:54:00:aa:00:01', 'ip': '10.77.0.11'}]},
            """
        if twoSystems {
            systems += """
                {'uuid': '\(Self.systemB)', 'name': 'node-b', 'power_state': 'Off', 'external_notifier': False,
                 'nics': [{'mac': '52:54:00:aa:00:02', 'ip': '10.77.0.12'}]},
                """
        }
        var config = """
            SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
            SUSHY_EMULATOR_LISTEN_PORT = \(port)
            SUSHY_EMULATOR_FAKE_DRIVER = True
            SUSHY_EMULATOR_AUTH_FILE = '\(htpasswd.path)'
            SUSHY_EMULATOR_FAKE_SYSTEMS = [\(systems)]

            """
        if tls {
            let cert = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            try await run("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                "-subj", "/CN=127.0.0.1",
            ])
            config += "SUSHY_EMULATOR_SSL_CERT = '\(cert)'\nSUSHY_EMULATOR_SSL_KEY = '\(key)'\n"
        }
        let configFile = directory.appendingPathComponent("emulator.conf")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let bin = URL(fileURLWithPath: Self.python).deletingLastPathComponent()
        // The fake driver keeps its systems in a database under the temp dir: give each emulator its own.
        process = try LabProcess(bin.appendingPathComponent("sushy-emulator").path, ["--config", configFile.path],
                                 environment: ["TMPDIR": directory.path],
                                 outputFile: directory.appendingPathComponent("sushy.log").path)
    }

    /// The BMC URL for a scheme, optionally naming a system.
    func url(scheme: String? = nil, system: String? = nil) -> String {
        let scheme = scheme ?? (tls ? "redfish+https" : "redfish+http")
        return "\(scheme)://127.0.0.1:\(port)" + (system.map { "/redfish/v1/Systems/\($0)" } ?? "")
    }

    /// Kills the emulator by PID and removes its directory.
    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs a helper command to completion; throws if it fails.
func run(_ executable: String, _ arguments: [String]) async throws {
    let status = try await runProcess(executable, arguments).status
    guard status == 0 else { throw SimulatorError(message: "\(executable) exited with \(status)") }
}
