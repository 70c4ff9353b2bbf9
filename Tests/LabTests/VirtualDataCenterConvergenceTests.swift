import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// `reconcile apply` converging the virtual data center, every part real: one rack of three nodes, each a network
/// namespace on the lab bridge behind an ipmi_sim BMC, DHCP and TFTP from dnsmasq, the node firmware PXE-booting
/// into `provision-agent install` (a 64 MiB image by BitTorrent from the reconciler's seed and the other nodes),
/// then into `provision-agent serve` installing WEB with dnf into the node's own root. A second commit (a new image
/// version, WEB on the third node) converges too. `vdc.py down` then leaves no namespace behind.
@Suite(.serialized)
struct VirtualDataCenterConvergenceTests {
    typealias Lab = VirtualDataCenterTests.Lab
    static let imageSize = 64 << 20

    static func writeSite(_ lab: Lab, sha256: String, version: String, web: [String]) throws {
        let nodes = (1...3).map { (bootLoader: "ipxe", services: web.contains("n\($0)") ? "web" : "") }
        try VirtualDataCenterTests.writeFiles(lab, [
            "site.yaml": VirtualDataCenterTests.siteYAML(lab, name: "vdc", concurrency: 4,
                                                         timeouts: "power: 1m, install: 4m, services: 3m", prune: nil),
            "racks/r1.yaml": VirtualDataCenterTests.rackYAML(lab, firstWave: true, nodes: nodes, image: "os",
                                                             macPrefix: "98", bmcBase: 9300),
            "services/web.yaml": VirtualDataCenterTests.webService,
            "images/os.yaml": VirtualDataCenterTests.image(name: "os", version: version, sha256: sha256,
                                                           pieceSize: "256KiB"),
        ])
    }

    static func git(_ lab: Lab, _ arguments: [String]) async throws {
        try await LabSupport.git(in: lab.base, author: "lab", email: "lab@rackswarm.invalid", arguments)
    }

    @Test func applyConvergesTheLabAndFollowsASecondCommit() async throws {
        try #require(getuid() == 0, "the virtual data center needs root (network namespaces)")
        let reconcile = VirtualDataCenterTests.binaries + "/reconcile"
        try #require(FileManager.default.isExecutableFile(atPath: reconcile), "build reconcile first")
        // The repo is the lab's base directory; the site is its `site/` folder.
        let base = try await VirtualDataCenterTests.labDirectory("rs-vdcapply")
        let lab = Lab(base: base)
        defer { try? FileManager.default.removeItem(atPath: base) }
        var tornDown = false
        defer { if !tornDown { VirtualDataCenterTests.downSynchronously(lab.lab) } }

        try FileManager.default.createDirectory(atPath: lab.site + "/images", withIntermediateDirectories: true)
        let image = lab.site + "/images/os.img"
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: Self.imageSize)
        for index in stride(from: 0, to: bytes.count, by: 8) {
            withUnsafeBytes(of: generator.next()) { word in for offset in 0..<8 { bytes[index + offset] = word[offset] } }
        }
        let imageBytes = Data(bytes)
        try imageBytes.write(to: URL(fileURLWithPath: image))
        let sha = try FileDigest.sha256(path: image)
        try Self.writeSite(lab, sha256: sha, version: "1", web: ["n1", "n2"])
        try FileManager.default.createDirectory(atPath: lab.httpRoot + "/boot", withIntermediateDirectories: true)
        try Data("kernel".utf8).write(to: URL(fileURLWithPath: lab.httpRoot + "/boot/vmlinuz"))
        try Data("initrd".utf8).write(to: URL(fileURLWithPath: lab.httpRoot + "/boot/initrd.img"))
        try "lab-bmc-secret\n".write(toFile: base + "/bmc.password", atomically: true, encoding: .utf8)
        try (SiteKey.generateHex() + "\n").write(toFile: base + "/site.key", atomically: true, encoding: .utf8)
        try "lab/\nhttp/\ntftp/\ncache/\nstate.db*\n*.log\nbmc.password\nsite.key\n"
            .write(toFile: base + "/.gitignore", atomically: true, encoding: .utf8)
        try await Self.git(lab, ["init", "-q", "-b", "main"])
        try await Self.git(lab, ["add", "-A"])
        try await Self.git(lab, ["commit", "-q", "-m", "one rack of three"])

        let up = await VirtualDataCenterTests.run("/usr/bin/python3", [VirtualDataCenterTests.vdc, "up", "--site",
                                                                      lab.site, "--lab", lab.lab])
        try #require(up.succeeded, "vdc.py up: \(up.output)")

        func apply(_ log: String) async -> CommandResult {
            await VirtualDataCenterTests.run("/usr/bin/python3", [
                VirtualDataCenterTests.vdc, "exec", lab.lab, "--", reconcile, "apply", "--repo", "file://" + base,
                "--path", "site", "--cache", base + "/cache", "--state", base + "/state.db",
                "--dnsmasq-pid-file", lab.lab + "/dnsmasq.pid", "--backoff", "1s", "--yes",
            ], timeout: .seconds(600))
        }
        func consoles() -> String {
            (1...3).map { "== n\($0)\n" + ((try? String(contentsOfFile: "\(lab.lab)/nodes/n\($0)/console.log",
                                                        encoding: .utf8)) ?? "") }.joined()
        }
        func expectConverged(version: String, web: Set<String>) async throws {
            let store = try SQLiteStateStore(path: base + "/state.db")
            for node in ["n1", "n2", "n3"] {
                let record = try await store.nodeRecord(node)
                #expect(record?.status.phase == .ready && record?.status.image == "os@\(version)",
                        "\(node): \(String(describing: record))")
                let disk = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(lab.lab)/nodes/\(node)/disk"))
                let written = try disk.read(upToCount: Self.imageSize) ?? Data()
                try disk.close()
                #expect(written == imageBytes, "\(node)'s disk holds the image")
                #expect(record?.status.services == (web.contains(node) ? ["web"] : []))
                #expect(FileManager.default.fileExists(atPath: "\(lab.lab)/nodes/\(node)/root/usr/sbin/httpd")
                        == web.contains(node), "\(node): WEB installed by dnf into its own root")
            }
        }

        let first = await apply("apply-1.log")
        #expect(first.succeeded, "\(first.output)\n\(consoles())")
        #expect(first.output.contains("3 nodes converged, 0 stalled, 0 failed"))
        try await expectConverged(version: "1", web: ["n1", "n2"])

        try Self.writeSite(lab, sha256: sha, version: "2", web: ["n1", "n2", "n3"])
        try await Self.git(lab, ["commit", "-q", "-am", "os 2; WEB on n3"])
        let second = await apply("apply-2.log")
        #expect(second.succeeded, "\(second.output)\n\(consoles())")
        #expect(second.output.contains("Plan: 0 to provision, 3 to reimage"))
        try await expectConverged(version: "2", web: ["n1", "n2", "n3"])

        let labState = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: lab.lab + "/lab.json"))) as? [String: Any]
        let prefix = try #require(labState?["prefix"] as? String)
        let down = await VirtualDataCenterTests.run("/usr/bin/python3", [VirtualDataCenterTests.vdc, "down", lab.lab])
        tornDown = true
        #expect(down.succeeded, "\(down.output)")
        #expect(await VirtualDataCenterTests.namespaces().filter { $0.hasPrefix(prefix) }.isEmpty)
    }
}
