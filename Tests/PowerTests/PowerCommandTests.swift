import Foundation
import LabSupport
import Testing

/// `reconcile power --bmc ...` end to end: the built binary against real ipmi_sim BMCs.
struct PowerCommandTests {
    /// The `reconcile` binary built next to the test bundle.
    static var reconcile: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("reconcile")
    }

    /// Runs `reconcile` with arguments and extra environment; returns (exit status, stdout, stderr).
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws
        -> (status: Int32, out: String, err: String)
    {
        let result = try await runProcessAsync(reconcile.path, arguments, environment: environment)
        return (result.status, result.stdout, result.stderr)
    }

    @Test func powersOnTwoBMCsAndReportsStatusAsJSON() async throws {
        let a = try await IPMISimulator.start()
        defer { a.stop() }
        let b = try await IPMISimulator.start()
        defer { b.stop() }
        let common = ["power", "--bmc", a.url, "--bmc", b.url, "--credentials", "env:RS_TEST_BMC_PASSWORD"]
        let on = try await Self.run(common + ["on"], environment: ["RS_TEST_BMC_PASSWORD": "pass"])
        #expect(on.status == 0, "\(on.out) \(on.err)")
        #expect(a.hookPower == "1" && b.hookPower == "1")
        let status = try await Self.run(
            common + ["--output", "json", "status"], environment: ["RS_TEST_BMC_PASSWORD": "pass"])
        #expect(status.status == 0)
        struct Row: Decodable {
            var bmc: String
            var ok: Bool
            var state: String?
        }
        let rows = try JSONDecoder().decode([Row].self, from: Data(status.out.utf8))
        #expect(rows.map(\.bmc) == [a.url, b.url])
        #expect(rows.allSatisfy { $0.ok && $0.state == "on" })
    }

    @Test func aWrongPasswordExitsNonZeroAndNeverPrintsThePassword() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let result = try await Self.run(
            ["power", "--bmc", sim.url, "--credentials", "env:RS_TEST_BMC_PASSWORD", "status"],
            environment: ["RS_TEST_BMC_PASSWORD": "s3cret-wrong"])
        #expect(result.status == 1)
        #expect(result.out.contains("authenticationFailed"))
        #expect(!(result.out + result.err).contains("s3cret-wrong"))
    }

    @Test func setsPXEAsTheNextBootDeviceFromACredentialsFile() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let secret = sim.directory.appendingPathComponent("bmc-password")
        try "pass\n".write(to: secret, atomically: true, encoding: .utf8)
        let result = try await Self.run(["power", "--bmc", sim.url, "--credentials", "file:\(secret.path)", "pxe"])
        #expect(result.status == 0, "\(result.out) \(result.err)")
        #expect(sim.hookLog.contains("boot pxe"))
    }

    @Test(arguments: [
        ["power", "status"],
        ["power", "--bmc", "ipmi://127.0.0.1", "status"],
        ["power", "--bmc", "ipmi://127.0.0.1", "--credentials", "hunter2", "status"],
        ["power", "--bmc", "ipmi://127.0.0.1", "--credentials", "env:X", "dance"],
    ])
    func rejectsBadInvocations(arguments: [String]) async throws {
        let result = try await Self.run(arguments)
        #expect(result.status != 0)
        #expect(!result.err.contains("hunter2"))
    }

    @Test func anUnknownSchemeIsReportedPerBMC() async throws {
        let result = try await Self.run(
            ["power", "--bmc", "ipmi2://10.0.0.5", "--credentials", "env:RS_TEST_BMC_PASSWORD", "status"],
            environment: ["RS_TEST_BMC_PASSWORD": "x"])
        #expect(result.status == 1)
        #expect(result.out.contains("unknownScheme"))
    }
}
