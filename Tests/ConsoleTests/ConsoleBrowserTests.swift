import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// A real browser against the real binary: `reconcile console` serves a seeded state database and a git repo
/// made by the test; headless Chromium renders the site page, runs its script, dumps the DOM and takes a
/// screenshot.
@Suite(.serialized)
struct ConsoleBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The phase colours of console.css, as a screenshot shows them.
    static let colours: [NodeActivity.Phase: String] = [
        .planned: "9aa5b1", .powering: "f0b429", .pxe: "8e6cef", .downloading: "2f80ed", .installing: "00a3c4",
        .services: "7ed6a0", .ready: "1e9e54", .stalled: "f2994a", .failed: "d64545", .decommissioned: "52606d",
        .unknown: "bcc5cf",
    ]

    @Test(.timeLimit(.minutes(5))) func chromiumRendersTheSitePageWithEveryPhase() async throws {
        let chromium = try #require(Self.chromium, "chromium is not installed (scripts/packages/console.apt)")
        let site = try await ConsoleTestSite()
        try await ConsoleTestSite.seed(try SQLiteStateStore(path: site.statePath))
        let tokenFile = site.root.appendingPathComponent("tokens").path
        try "ops:browser-test-token-0123\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let profile = site.root.appendingPathComponent("chromium").path
        let dom = site.root.appendingPathComponent("dom.html").path
        let screenshot = site.root.appendingPathComponent("site.png").path
        let swarmDOM = site.root.appendingPathComponent("swarm.html").path
        let nodeDOM = site.root.appendingPathComponent("node.html").path

        try await withConsoleServer(site: site, extra: ["--token-file", tokenFile]) { url in
            let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                          "--user-data-dir=\(profile)", "--window-size=1280,760", "--hide-scrollbars"]
            // 7 s of virtual time: the page's script polls once (at 5 s) and swaps in the fresh main section.
            let dumped = await runCommand(
                "/bin/sh", ["-c", "exec \"$0\" \"$@\" > \"\(dom)\"", chromium] + common
                    + ["--virtual-time-budget=7000", "--dump-dom", url], environment: [:], timeout: 120)
            #expect(dumped.succeeded, "chromium --dump-dom: \(dumped.summary)")
            let shot = await runCommand(
                chromium, common + ["--screenshot=\(screenshot)", url], environment: [:], timeout: 120)
            #expect(shot.succeeded, "chromium --screenshot: \(shot.summary)")
            // The swarm page's chart and the node page, as the browser builds them.
            for (page, file) in [("swarm", swarmDOM), ("nodes/r1n1", nodeDOM)] {
                let result = await runCommand(
                    "/bin/sh",
                    ["-c", "exec \"$0\" \"$@\" > \"\(file)\"", chromium] + common + ["--dump-dom", url + page],
                    environment: [:], timeout: 120)
                #expect(result.succeeded, "chromium --dump-dom \(page): \(result.summary)")
            }
            if let directory = ProcessInfo.processInfo.environment["RACKSWARM_CONSOLE_SCREENSHOTS"] {
                for page in ["swarm", "nodes/r1n1", "services", "plan"] {
                    let name = page.replacingOccurrences(of: "/", with: "-")
                    _ = await runCommand(
                        chromium, common.map { $0 == "--window-size=1280,760" ? "--window-size=1280,1100" : $0 }
                            + ["--screenshot=\(directory)/console-\(name).png", url + page],
                        environment: [:], timeout: 120)
                }
            }
        }
        let swarm = try String(contentsOfFile: swarmDOM, encoding: .utf8)
        #expect(swarm.contains("<svg class=\"chart\"") && occurrences(of: "<polyline", in: swarm) == 2)
        let node = try String(contentsOfFile: nodeDOM, encoding: .utf8)
        #expect(node.contains("httpd-2.2.9-4.Gxdl.i386.rpm") && node.contains("data-state=\"finished\""))
        #expect(node.contains("on (after powerCycle at "), "power from the journal when no BMC state is known")
        #expect(!node.contains(hostile))

        // The DOM after the browser ran the script.
        let html = try String(contentsOfFile: dom, encoding: .utf8)
        for rack in ["r1", "r2", "r3"] { #expect(html.contains("class=\"rack\" data-rack=\"\(rack)\""), "\(rack)") }
        for (node, phase) in ConsoleTestSite.phases {
            #expect(html.contains("class=\"cell phase-\(phase.rawValue)\" data-node=\"\(node)\" "
                                  + "data-phase=\"\(phase.rawValue)\""), "\(node) is not shown as \(phase)")
        }
        #expect(html.contains("live: updated"), "the live-update script did not swap in a fresh main section")
        #expect(!html.contains(hostile))
        #expect(html.contains(String(site.commit.prefix(12))))

        // The screenshot: every phase's colour is on screen, over an area larger than its legend swatch.
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4e, 0x47]))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Support/png_colours.py").path
        let counted = await runCommand(
            "/usr/bin/python3", [script, screenshot] + Self.colours.values.sorted(), environment: [:],
            timeout: 120)
        #expect(counted.succeeded, "\(counted.summary)")
        var pixels: [String: Int] = [:]
        for line in counted.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let count = Int(parts[1]) { pixels[String(parts[0])] = count }
        }
        for (phase, colour) in Self.colours {
            // A swatch is 9×9 = 81 px; a node cell is several hundred.
            #expect((pixels[colour] ?? 0) > 400, "\(phase) (#\(colour)): \(pixels[colour] ?? 0) px")
        }
        if let keep = ProcessInfo.processInfo.environment["RACKSWARM_CONSOLE_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: screenshot, toPath: keep)
        }
    }

    /// Starts `reconcile console` on 127.0.0.1 (a free port) for `site`, runs `body` with its URL, then kills it
    /// with SIGKILL and reaps it, whatever `body` did.
    func withConsoleServer(site: ConsoleTestSite, extra: [String], _ body: (String) async throws -> Void)
        async throws
    {
        let out = site.root.appendingPathComponent("console.out").path
        let arguments = ["console", "--repo", site.repo, "--cache", site.cache, "--state", site.statePath,
                         "--listen", "127.0.0.1:0"] + extra
        // A watched child (LabSupport): killed below, or by the runner's watchdog if this test never gets there.
        let server = try LabProcess(productsDirectory + "/reconcile", arguments, outputFile: out)
        defer { server.stop() }
        try await body(try await Self.waitForURL(out: out, server: server))
        #expect(server.isRunning, "the console should run until killed: \(server.output)")
    }

    /// The URL the console prints once it listens (a liveness bound of 60 s on a loaded machine).
    static func waitForURL(out: String, server: LabProcess) async throws -> String {
        var text = ""
        var url: String?
        // `eventually` looks once more after its deadline: a starved test task may wake only after it.
        _ = await eventually(60, every: .milliseconds(100)) {
            text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            url = text.split(separator: "\n").first(where: { $0.hasPrefix("console: http://") })
                .flatMap { $0.split(separator: " ").dropFirst().first }.map(String.init)
            return url != nil || !server.isRunning
        }
        if let url { return url }
        guard server.isRunning else { throw ConsoleTestError("reconcile console exited:\n\(text)") }
        throw ConsoleTestError("reconcile console printed no URL within 60 s:\n\(text)")
    }
}
