import Foundation
import LabSupport
import Testing

/// `reconcile boot serve -o json --out-file F`: once it listens, F holds one JSON object with the URL, and the URL
/// serves the HTTP root.
struct BootServeOutputTests {
    @Test(.timeLimit(.minutes(2)))
    func jsonListeningLineNamesAURLThatServesTheRoot() async throws {
        let reconcile = try #require(builtBinaries.map { $0 + "/reconcile" }, "reconcile is not built")
        let directory = try TemporaryDirectory()
        let http = try directory.subdirectory("http")
        try directory.write("http/boot/vmlinuz", Data("kernel bytes".utf8))
        try directory.write("site/site.yaml", Data("""
            apiVersion: rackswarm.io/v1
            kind: Site
            metadata: {name: lab}
            spec:
              network: {pxeSubnet: 10.9.0.0/24, serverAddress: 10.9.0.1}
              boot: {tftpRoot: \(try directory.subdirectory("tftp")), httpRoot: \(http)}

            """.utf8))
        let port = try freePort()
        let status = directory.path + "/listening.json"
        let server = try LabProcess(reconcile, [
            "boot", "serve", "--repo", directory.path + "/site", "--listen", "127.0.0.1", "--port", "\(port)",
            "--no-tracker", "--output", "json", "--out-file", status,
        ], outputFile: directory.path + "/server.log")
        defer { server.stop() }
        let deadline = ContinuousClock.now + .seconds(60)
        var document: [String: Any]?
        while document == nil, ContinuousClock.now < deadline, server.isRunning {
            document = (try? Data(contentsOf: URL(fileURLWithPath: status)))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            if document == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let listening = try #require(document, "no listening line in --out-file: \(server.output)")
        #expect(listening["event"] as? String == "listening" && listening["port"] as? Int == port)
        let url = try #require(listening["url"] as? String)
        #expect(url == "http://127.0.0.1:\(port)/")
        let (curl, body, _) = try runProcess("/usr/bin/curl", ["-sSf", url + "boot/vmlinuz"])
        #expect(curl == 0 && body == "kernel bytes")
    }
}
