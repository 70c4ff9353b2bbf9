import Drivers
import Foundation
import LabSupport
import Testing

/// `reconcile console` refuses to start on bad input, saying where the problem is.
struct ConsoleCommandTests {
    @Test func badTokenFileOrListenAddressStopsItBeforeServing() async throws {
        let site = try await ConsoleTestSite()
        let binary = productsDirectory + "/reconcile"
        let common = ["console", "--repo", site.repo, "--cache", site.cache, "--state", site.statePath]
        let missing = site.root.appendingPathComponent("no-such-tokens").path
        let noFile = await runCommand(
            binary, common + ["--listen", "127.0.0.1:0", "--token-file", missing], environment: [:],
            timeout: 60)
        #expect(noFile.status == 1)
        #expect(noFile.output.contains("\(missing): error: cannot read the token file"))

        let weak = site.root.appendingPathComponent("tokens").path
        try "# ops\nalice:short\n".write(toFile: weak, atomically: true, encoding: .utf8)
        let weakToken = await runCommand(
            binary, common + ["--listen", "127.0.0.1:0", "--token-file", weak], environment: [:], timeout: 60)
        #expect(weakToken.status == 1)
        #expect(weakToken.output.contains("\(weak):2: error: a token must be at least 16 characters"))

        let badListen = await runCommand(binary, common + ["--listen", "localhost"], environment: [:],
                                                         timeout: 60)
        #expect(badListen.status != 0 && badListen.output.contains("--listen wants HOST:PORT"))
        #expect(!FileManager.default.fileExists(atPath: site.statePath), "nothing was written")
    }

    /// `-o json --out-file F`: the listening line is one JSON object in F, whose URL answers (port 0 resolved).
    @Test func jsonListeningLineGoesToTheOutFile() async throws {
        let site = try await ConsoleTestSite()
        let status = site.root.appendingPathComponent("listening.json").path
        let server = try LabProcess(
            productsDirectory + "/reconcile",
            ["console", "--repo", site.repo, "--cache", site.cache, "--state", site.statePath,
             "--listen", "127.0.0.1:0", "-o", "json", "--out-file", status],
            outputFile: site.root.appendingPathComponent("console.out").path)
        defer { server.stop() }
        let document = try await server.jsonFile(status, timeout: .seconds(120))
        let listening = try #require(document, "no listening line in --out-file: \(server.output)")
        #expect(listening["event"] as? String == "listening")
        #expect(listening["mode"] as? String == "read-only")
        let port = try #require(listening["port"] as? Int)
        #expect(port > 0)
        let url = try #require(listening["url"] as? String)
        #expect(url == "http://127.0.0.1:\(port)/")
        let (curl, body, _) = try await runProcess("/usr/bin/curl", ["-sSf", url + "metrics"])
        #expect(curl == 0 && body.contains("rackswarm_build_info"))
        #expect(!server.output.contains("console: http"), "the line went to --out-file, not standard output")
    }
}
