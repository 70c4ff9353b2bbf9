import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// An attacker on the provisioning network against the built `reconcile apply`, while real installs run on the
/// loopback lab (each held in its post actions until the test lets it go): reports and instruction requests with
/// no token, a made-up token, a spent token, another node's token, and a live token from another address than
/// the node's change nothing and answer 401/403, logged and counted in `/metrics`; the exact repeat of a node's
/// `rebooting` report with its spent token answers 204 and changes nothing; the instructions carry the node's own agent key, never the site key; the console,
/// its API and `/metrics` answer on their own HTTPS listener only (curl checks the certificate path), never on
/// the PXE-facing port or over plain HTTP; and no log or JSON output of the whole run holds the BMC password,
/// an operator token, an install token or a key.
struct InstallTrustTests {
    /// `curl` as the attacker runs it: the HTTP status and the body.
    /// Status 0: no HTTP answer (refused, or a TLS handshake that failed).
    static func request(_ url: String, post body: String? = nil, token: String? = nil, caFile: String? = nil,
                        from address: String? = nil) async -> (Int, String)
    {
        var arguments = ["-s", "--max-time", "10", "-w", "\n%{http_code}"]
        if let address { arguments += ["--interface", address] }
        if let caFile { arguments += ["--cacert", caFile] }
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let result = await runCommand("/usr/bin/curl", arguments + [url], timeout: 20)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static let rebooting = #"{"phase":"rebooting","image":"os@1.0","percent":100,"downloaded":0,"uploaded":0,"#
        + #""fromSeed":0}"#

    /// The node's per-MAC iPXE entry as served (what a node, or anyone who knows its MAC, reads).
    static func entry(_ lab: LoopbackLab, _ node: LoopbackLab.LabNode) -> String {
        let pxe = "01-" + node.mac.replacingOccurrences(of: ":", with: "-")
        return (try? String(contentsOfFile: lab.httpRoot + "/ipxe/\(pxe).ipxe", encoding: .utf8)) ?? ""
    }

    /// The `rackswarm.token=` of the node's install entry, nil when it has none.
    static func token(_ lab: LoopbackLab, _ node: LoopbackLab.LabNode) -> String? {
        let words = entry(lab, node).split(whereSeparator: { $0 == " " || $0 == "\n" })
        return words.first { $0.hasPrefix("rackswarm.token=") }.map { String($0.dropFirst(16)) }
    }

    /// Waits until the node's last report is `phase` (its install holds in the post actions after `written`).
    static func waitFor(_ phase: InstallReport.Phase, _ node: LoopbackLab.LabNode, lab: LoopbackLab) async throws
        -> Bool
    {
        for _ in 0..<600 {
            if try await Self.phase(node, lab: lab) == phase { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// The node's last reported phase; nil before the reconciler made its state store.
    static func phase(_ node: LoopbackLab.LabNode, lab: LoopbackLab) async throws -> InstallReport.Phase? {
        let store = try? SQLiteStateStore.openExisting(path: lab.statePath)
        return try? await store?.installProgress(of: node.name)?.report.phase
    }

    @Test(.timeLimit(.minutes(10)))
    func forgedStaleAndForeignReportsAreRefusedWhileRealInstallsRun() async throws {
        let lab = try await LoopbackLab(nodes: 3, holdInstalls: true)
        defer { lab.tearDown() }
        let (n1, n2, n3) = (lab.nodes[0], lab.nodes[1], lab.nodes[2])
        // The console's certificate, for 127.0.0.1, and an operator token.
        let (certificate, privateKey) = (lab.root + "/console.crt", lab.root + "/console.key")
        let made = await runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-keyout", privateKey, "-out", certificate, "-subj", "/CN=rackswarm-console",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        try #require(made.status == 0, "\(made.output)")
        lab.consoleTLS = (certificate, privateKey)
        let operatorToken = "lab-operator-\(UUID().uuidString)"
        try "ops:\(operatorToken)\n".write(toFile: lab.root + "/tokens", atomically: true, encoding: .utf8)
        let apply = try lab.startApply(["--log-level", "debug", "--token-file", lab.root + "/tokens"], log: "apply.log")
        let base = "http://127.0.0.1:\(lab.httpPort)"
        let siteKey = try SiteKey(contentsOfFile: lab.root + "/site.key")

        // Wave 1: r1n1's install runs and holds after `written`.
        #expect(try await Self.waitFor(.written, n1, lab: lab), "\(apply.output)\n\(lab.diagnostics())")
        let token1 = Self.token(lab, n1) ?? "none"
        #expect(token1 != "none", "r1n1's install entry carries no token: \(Self.entry(lab, n1))")
        var (status, body) = await Self.request(base + "/report/r1n1")
        #expect(status == 401, "instructions without a token: \(status) \(body)")
        (status, body) = await Self.request(base + "/report/r1n1", post: Self.rebooting)
        #expect(status == 401, "forged rebooting without a token: \(status) \(body)")
        (status, body) = await Self.request(base + "/report/r1n1", post: Self.rebooting,
                                            token: String(repeating: "0", count: 64))
        #expect(status == 403, "forged rebooting with a made-up token: \(status) \(body)")
        #expect(Self.entry(lab, n1).contains("\nkernel "), "r1n1's entry left install mode: \(Self.entry(lab, n1))")
        #expect(try await Self.phase(n1, lab: lab) == .written, "a forged report was recorded")
        // The node's own token gets its instructions, with its own agent key: not the site key.
        (status, body) = await Self.request(base + "/report/r1n1", token: token1)
        #expect(status == 200, "\(body)")
        let instructions = try JSONDecoder().decode(InstallInstructions.self, from: Data(body.utf8))
        let instructionsJSON = body
        #expect(instructions.agent?.key == siteKey.agentKeyText(forNode: "r1n1"))
        #expect(instructions.agent?.key != siteKey.agentKeyText(forNode: "r1n2"))
        try lab.release(n1)

        // Wave 2: r1n2 and r1n3 install at once, each with its own token; r1n1's is dead.
        #expect(try await Self.waitFor(.written, n2, lab: lab), "\(apply.output)\n\(lab.diagnostics())")
        #expect(try await Self.waitFor(.written, n3, lab: lab), "\(apply.output)\n\(lab.diagnostics())")
        let token2 = Self.token(lab, n2) ?? "none"
        let token3 = Self.token(lab, n3) ?? "none"
        #expect(Set([token1, token2, token3]).count == 3)
        #expect(Self.token(lab, n1) == nil, "r1n1 boots locally: \(Self.entry(lab, n1))")
        (status, body) = await Self.request(base + "/report/r1n1", post: Self.rebooting, token: token1)
        #expect(status == 403, "r1n1's token after its rebooting: \(status) \(body)")
        // The installer's retry of its very `rebooting` report (its answer lost) succeeds and changes nothing;
        // the spent token gets nothing else.
        let spent = try await Self.recorded(n1, lab: lab)
        #expect(spent.phase == .rebooting)
        (status, body) = await Self.request(base + "/report/r1n1", post: try Self.json(spent), token: token1)
        #expect(status == 204, "a repeat of r1n1's rebooting report: \(status) \(body)")
        #expect(try await Self.recorded(n1, lab: lab) == spent)
        #expect(Self.token(lab, n1) == nil, "r1n1 boots locally: \(Self.entry(lab, n1))")
        (status, body) = await Self.request(base + "/report/r1n1", token: token1)
        #expect(status == 403, "r1n1's instructions with its spent token: \(status) \(body)")
        // A live token read off the network, used from another address than the node's: refused.
        (status, body) = await Self.request(base + "/report/r1n2", post: Self.rebooting, token: token2,
                                            from: "127.66.0.9")
        #expect(status == 403, "r1n2's token from another address: \(status) \(body)")
        #expect(Self.entry(lab, n2).contains("\nkernel "), "r1n2's entry left install mode")
        (status, body) = await Self.request(base + "/report/r1n3", post: Self.rebooting, token: token2)
        #expect(status == 403, "r1n2's token on r1n3's report: \(status) \(body)")
        (status, body) = await Self.request(base + "/report/r1n3", token: token2)
        #expect(status == 403, "r1n2's token on r1n3's instructions: \(status) \(body)")
        #expect(Self.entry(lab, n3).contains("\nkernel "), "r1n3's entry left install mode")
        #expect(try await Self.phase(n3, lab: lab) == .written, "a forged report was recorded")
        let metrics = await Self.request(lab.consoleBase + "/metrics", caFile: certificate).1
        for (reason, count) in [("missing", 2), ("wrong_token", 3), ("spent", 2), ("wrong_address", 1)] {
            #expect(metrics.contains("rackswarm_install_reports_refused_total{reason=\"\(reason)\"} \(count)"),
                    "\(reason) × \(count) in:\n\(metrics.split(separator: "\n").filter { $0.contains("refused") })")
        }

        // The console, its API and /metrics: HTTPS on their own listener, checked against the certificate.
        #expect(lab.consoleBase.hasPrefix("https://"))
        #expect(await Self.request(lab.consoleBase + "/console", caFile: certificate).0 == 200)
        #expect(await Self.request(lab.consoleBase + "/console/api/v1/site").0 == 0, "an untrusted certificate")
        let pass = lab.consoleBase + "/console/api/v1/pass"
        #expect(await Self.request(pass, post: "", caFile: certificate).0 == 401)
        (status, body) = await Self.request(pass, post: "", token: operatorToken, caFile: certificate)
        #expect((200..<300).contains(status), "an operator's pass request over HTTPS: \(status) \(body)")
        // Over plain HTTP the console listener answers nothing; the PXE-facing port has no console at all.
        let plain = "http://127.0.0.1:\(lab.consolePort)"
        #expect(await Self.request(plain + "/console/api/v1/pass", post: "", token: operatorToken).0 == 0)
        #expect(await Self.request(plain + "/metrics").0 == 0)
        for path in ["/console", "/console/api/v1/site", "/metrics"] {
            #expect(await Self.request(base + path).0 == 404, "\(path) on the PXE-facing port")
        }
        #expect(await Self.request(base + "/console/api/v1/pass", post: "", token: operatorToken).0 == 404)
        #expect(apply.output.contains("https://127.0.0.1:\(lab.consolePort)/console"), "\(apply.output)")

        try lab.release(n2)
        try lab.release(n3)

        let status2 = await apply.wait(timeout: 300)
        #expect(status2 == 0, "\(apply.output)\n\(lab.diagnostics())")
        let refusals = apply.output.split(separator: "\n").filter { $0.contains("install request refused") }
        #expect(refusals.count == 8, "\(refusals)")

        // Secrets stay secret: every log and JSON output of the run, searched for every secret it used.
        var outputs = ["apply log": apply.output]
        for node in lab.nodes {
            outputs["\(node.name) console"] = lab.console(node)
            outputs["\(node.name) BMC log"] = lab.bmcLog(node)
        }
        for command in [["status", "--output", "json"], ["plan", "--output", "json"]] {
            let source = ["--repo", "file://" + lab.repo, "--path", "site", "--cache", lab.root + "/cache"]
            let run = await runCommand(lab.binaries + "/reconcile", command + source + ["--state", lab.statePath],
                                       environment: ["RACKSWARM_LAB_BMC_PASSWORD": LoopbackLab.password])
            outputs["reconcile \(command.joined(separator: " "))"] = run.output
        }
        let keyBytes = try #require(FileManager.default.contents(atPath: lab.root + "/site.key"))
        var secrets = ["BMC password": LoopbackLab.password, "site key (hex)": Self.hex(Array(keyBytes)),
                       "operator token": operatorToken,
                       "token r1n1": token1, "token r1n2": token2, "token r1n3": token3]
        for node in lab.nodes { secrets["agent key \(node.name)"] = siteKey.agentKeyText(forNode: node.name) }
        let leaks = { (text: String) in secrets.filter { text.contains($0.value) }.map(\.key).sorted() }
        // The search finds a secret where one is: the instructions r1n1 got (with its token) hold its agent key.
        #expect(leaks(instructionsJSON) == ["agent key r1n1"])
        for (what, text) in outputs.sorted(by: { $0.key < $1.key }) {
            #expect(text.count > 0 || what.contains("BMC"), "\(what) is empty")
            #expect(leaks(text).isEmpty, "\(what) holds: \(leaks(text))")
        }
    }

    /// The node's last report as the reconciler recorded it.
    static func recorded(_ node: LoopbackLab.LabNode, lab: LoopbackLab) async throws -> InstallReport {
        let store = try #require(try SQLiteStateStore.openExisting(path: lab.statePath))
        return try #require(try await store.installProgress(of: node.name)?.report)
    }

    static func json(_ report: InstallReport) throws -> String {
        String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
