import BootServer
import Drivers
import Foundation
import LabSupport
import Logging
import Reconciler
import Testing

/// Where a node's token may be used from, against the real boot server and curl from several loopback addresses:
/// with `dhcp: managed` only from the address reserved for the node (its iPXE script too), in any site from the
/// address that first used it; and after `rebooting` only an exact repeat of that report, from there, succeeds.
struct InstallDeskAddressTests {
    /// The example data center on a loopback PXE subnet, r1n1 reserved at 127.55.0.11, with r1n1's install entry
    /// (and its token) written by the file driver.
    struct World {
        let directory: TemporaryDirectory
        let desk: InstallDesk
        let store: SQLiteStateStore
        let driver: FileBootDriver
        let token: String

        init(dhcp: ProvisioningNetwork.DHCPMode) async throws {
            directory = try TemporaryDirectory()
            store = try SQLiteStateStore(path: directory.path + "/state.db")
            var desired = try BootExecutionTests.datacenter()
            desired.site.network.pxeSubnet = try #require(IPv4Network("127.0.0.0/8"))
            desired.site.network.dhcp = dhcp
            let index = try #require(desired.nodes.firstIndex { $0.name == "r1n1" })
            desired.nodes[index].ip.value = try #require(IPv4Address("127.55.0.11"))
            let node = desired.nodes[index]
            let image = try #require(desired.image(named: node.image.value))
            let entry = BootEntry(installing: node, image: image, site: desired.site)
            guard case .install(let install) = entry.mode else { throw LabError("not an install entry") }
            for root in ["tftp", "http"] {
                try directory.write("\(root)/\(install.kernel)", Data("kernel".utf8))
                try directory.write("\(root)/\(install.initrd)", Data("initrd".utf8))
            }
            driver = FileBootDriver(tftpRoot: try directory.subdirectory("tftp"),
                                    httpRoot: try directory.subdirectory("http"),
                                    server: BootServerAddress(desired.site.network),
                                    tokens: InstallTokenMinter(siteKey: InstallTokenTests.siteKey),
                                    logger: Logger(label: "test.boot"))
            try await driver.write(entry)
            token = try #require(try await driver.installToken(node: "r1n1"))
            desk = InstallDesk(desired: desired, store: store, boot: driver, logger: Logger(label: "test.desk"),
                               receiver: "room-a-1")
        }

        /// Runs the boot server wired to the desk as `reconcile apply` wires it.
        func serve(_ body: @Sendable (String) async throws -> Void) async throws {
            let desk = self.desk
            try await withBootServer(httpRoot: try directory.subdirectory("http"), configure: { server in
                server.instructions = { await desk.instructions(for: $0) }
                server.onReport = { node, report in try await desk.receive(report, from: node) }
                server.authorize = { node, token, client, report in
                    switch await desk.authorize(node: node, token: token, client: client, report: report) {
                    case .granted: .granted
                    case .alreadyRecorded: .alreadyRecorded
                    case .missingToken: .missingToken
                    case .refused(let why): .refused(why)
                    }
                }
                server.bootScriptReader = { mac, client in await desk.mayReadBootScript(mac: mac, client: client) }
            }) { port in try await body("http://127.0.0.1:\(port)") }
        }
    }

    /// `curl` from `address` (a loopback address the kernel lets any socket bind): the status.
    static func status(_ url: String, from address: String, token: String? = nil, post body: String? = nil)
        async -> Int
    {
        var arguments = ["-s", "-o", "/dev/null", "--max-time", "10", "-w", "%{http_code}", "--interface", address]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        return Int(await runCommand("/usr/bin/curl", arguments + [url], timeout: 20).output.suffix(3)) ?? 0
    }

    static func report(_ phase: String, percent: Int) -> String {
        #"{"phase":"\#(phase)","image":"centos-7@7.9","percent":\#(percent),"downloaded":4096,"uploaded":0,"#
            + #""fromSeed":4096}"#
    }

    @Test func withManagedDHCPOnlyTheReservedAddressReadsTheScriptAndUsesTheToken() async throws {
        let world = try await World(dhcp: .managed)
        try await world.serve { (base: String) async throws in
            let script = base + "/ipxe/01-52-54-00-77-01-01.ipxe"
            // Another host on the PXE subnet: no script (as if there were none), and the token is refused.
            #expect(await Self.status(script, from: "127.66.0.9") == 404)
            #expect(await Self.status(base + "/ipxe/01-52-54-00-77-01-01.ipxe", from: "127.0.0.1") == 404)
            #expect(await Self.status(base + "/report/r1n1", from: "127.66.0.9", token: world.token) == 403)
            // The node, from its reserved address.
            #expect(await Self.status(script, from: "127.55.0.11") == 200)
            #expect(await Self.status(base + "/report/r1n1", from: "127.55.0.11", token: world.token) == 200)
            let booted = Self.report("booted", percent: 0)
            #expect(await Self.status(base + "/report/r1n1", from: "127.55.0.11", token: world.token,
                                      post: booted) == 204)
            #expect(await Self.status(base + "/report/r1n1", from: "127.66.0.9", token: world.token,
                                      post: Self.report("rebooting", percent: 100)) == 403)
            #expect(try await world.driver.installToken(node: "r1n1") == world.token, "the install went on")
        }
    }

    @Test func aTokenIsBoundToTheFirstAddressAndARebootingRepeatIsIdempotent() async throws {
        let world = try await World(dhcp: .external)
        try await world.serve { (base: String) async throws in
            let url = base + "/report/r1n1"
            // External DHCP: the script is served to anyone (the reservation is not known to be in force) ...
            #expect(await Self.status(base + "/ipxe/01-52-54-00-77-01-01.ipxe", from: "127.66.0.9") == 200)
            // ... but the first address that uses the token owns it.
            #expect(await Self.status(url, from: "127.55.0.11", token: world.token) == 200)
            #expect(await Self.status(url, from: "127.66.0.9", token: world.token) == 403)
            #expect(await Self.status(url, from: "127.66.0.9", token: world.token,
                                      post: Self.report("rebooting", percent: 100)) == 403)
            #expect(try await world.driver.installToken(node: "r1n1") == world.token, "a forged rebooting won")

            // The node's rebooting report spends the token; its answer is "lost" and the installer sends it again.
            let rebooting = Self.report("rebooting", percent: 100)
            #expect(await Self.status(url, from: "127.55.0.11", token: world.token, post: rebooting) == 204)
            #expect(try await world.driver.installToken(node: "r1n1") == nil, "the entry left install mode")
            let recorded = try await world.store.installProgress(of: "r1n1")
            #expect(recorded?.report.phase == .rebooting && recorded?.receivedBy == "room-a-1",
                    "the store says which reconciler received it: \(recorded as Any)")
            #expect(await Self.status(url, from: "127.55.0.11", token: world.token, post: rebooting) == 204)
            #expect(try await world.store.installProgress(of: "r1n1") == recorded, "the repeat changed nothing")
            // Any other use of the spent token: refused.
            #expect(await Self.status(url, from: "127.55.0.11", token: world.token,
                                      post: Self.report("rebooting", percent: 99)) == 403)
            #expect(await Self.status(url, from: "127.55.0.11", token: world.token,
                                      post: Self.report("failed", percent: 100)) == 403)
            #expect(await Self.status(url, from: "127.55.0.11", token: world.token) == 403)
            #expect(await Self.status(url, from: "127.66.0.9", token: world.token, post: rebooting) == 403)
        }
    }
}
