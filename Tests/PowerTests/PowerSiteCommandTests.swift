import Foundation
import LabSupport
import Testing

/// `reconcile power NODE… ACTION` resolves nodes and their BMC credentials from a site directory.
struct PowerSiteCommandTests {
    /// Writes a one-rack site whose nodes point at the given simulators; the rack holds the password reference.
    static func writeSite(in directory: URL, nodes: [(name: String, sim: IPMISimulator)]) throws -> URL {
        let site = directory.appendingPathComponent("site-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        var yaml = """
            apiVersion: rackswarm.io/v1
            kind: Site
            metadata:
              name: lab
            spec:
              network:
                pxeSubnet: 10.77.0.0/24
                serverAddress: 10.77.0.1
            ---
            apiVersion: rackswarm.io/v1
            kind: Image
            metadata:
              name: centos-7
            spec:
              version: "7.9"
              file: images/centos-7.img
              sha256: 3f1a9c1e7b0d5a2e4c6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5
              kernel: boot/vmlinuz
              initrd: boot/initrd.img
            ---
            apiVersion: rackswarm.io/v1
            kind: Rack
            metadata:
              name: r1
            spec:
              bmc:
                username: admin
                password: {env: RS_TEST_RACK_PASSWORD}

            """
        for (index, node) in nodes.enumerated() {
            yaml += SiteYAML.node(node.name, mac: "52:54:00:77:01:0\(index + 1)", ip: "10.77.0.1\(index + 1)",
                                  bmc: node.sim.url, bootLoader: "ipxe", image: "centos-7", services: nil)
        }
        try yaml.write(to: site.appendingPathComponent("site.yaml"), atomically: true, encoding: .utf8)
        return site
    }

    @Test func powersNamedNodesOnThroughTheirBMCs() async throws {
        let a = try await IPMISimulator.start()
        defer { a.stop() }
        let b = try await IPMISimulator.start()
        defer { b.stop() }
        let site = try Self.writeSite(in: a.directory, nodes: [("n1", a), ("n2", b)])
        let environment = ["RS_TEST_RACK_PASSWORD": "pass"]
        let validate = try await PowerCommandTests.run(["validate", site.path], environment: environment)
        try #require(validate.status == 0, "the test site must load: \(validate.err)")
        let on = try await PowerCommandTests.run(["power", "--repo", site.path, "n2", "on"], environment: environment)
        #expect(on.status == 0, "\(on.out) \(on.err)")
        #expect(b.hookPower == "1")
        #expect(a.hookPower == "0", "only the named node")
        let status = try await PowerCommandTests.run(
            ["power", "--repo", site.path, "n1", "n2", "status"], environment: environment)
        #expect(status.status == 0)
        let lines = status.out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("n1 ") && $0.contains("off") })
        #expect(lines.contains { $0.hasPrefix("n2 ") && $0.contains("on") })
    }

    @Test func anUnknownNodeContactsNoBMC() async throws {
        let a = try await IPMISimulator.start()
        defer { a.stop() }
        let site = try Self.writeSite(in: a.directory, nodes: [("n1", a)])
        let result = try await PowerCommandTests.run(
            ["power", "--repo", site.path, "n1", "n9", "on"], environment: ["RS_TEST_RACK_PASSWORD": "pass"])
        #expect(result.status != 0)
        #expect(result.err.contains("n9"))
        #expect(a.hookPower == "0")
    }
}
