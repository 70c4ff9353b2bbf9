import Drivers
import Foundation
import LabSupport
import Testing

/// `reconcile console` refuses to start on bad input, saying where the problem is.
struct ConsoleCommandTests {
    @Test func badTokenFileOrListenAddressStopsItBeforeServing() async throws {
        let site = try ConsoleTestSite()
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
}
