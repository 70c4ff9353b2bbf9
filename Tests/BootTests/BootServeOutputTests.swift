import Foundation
import LabSupport
import Testing

/// `reconcile boot serve -o json --out-file F`: once it listens, F holds one JSON object with the URL, and the URL
/// serves the HTTP root.
struct BootServeOutputTests {
    @Test(.timeLimit(.minutes(3)))
    func jsonListeningLineNamesAURLThatServesTheRoot() async throws {
        let reconcile = try #require(builtBinaries.map { $0 + "/reconcile" }, "reconcile is not built")
        let directory = try TemporaryDirectory()
        try directory.writeBootSite()
        try directory.write("http/boot/vmlinuz", Data("kernel bytes".utf8))
        let port = try freePort()
        let status = directory.path + "/listening.json"
        let server = try LabProcess(reconcile, [
            "boot", "serve", "--repo", directory.path + "/site", "--listen", "127.0.0.1", "--port", "\(port)",
            "--no-tracker", "--output", "json", "--out-file", status,
        ], outputFile: directory.path + "/server.log")
        defer { server.stop() }
        let document = try await server.jsonFile(status, timeout: .seconds(120))
        let listening = try #require(document, "no listening line in --out-file: \(server.output)")
        #expect(listening["event"] as? String == "listening" && listening["port"] as? Int == port)
        let url = try #require(listening["url"] as? String)
        #expect(url == "http://127.0.0.1:\(port)/")
        let (curl, body, _) = try await runProcess("/usr/bin/curl", ["-sSf", url + "boot/vmlinuz"])
        #expect(curl == 0 && body == "kernel bytes")
    }
}
