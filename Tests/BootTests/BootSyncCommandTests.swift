import Drivers
import Foundation
import LabSupport
import Testing

/// `reconcile boot sync` on a copy of the example site: per-node failures name node and file while the others
/// are written; a node that leaves the repo is pruned; an operator's file is never touched.
struct BootSyncCommandTests {
    @Test func syncWritesEntriesReportsMissingKernelsAndPrunes() async throws {
        let root = URL(fileURLWithPath: packageRoot)
        let binary = root.appendingPathComponent(".build/debug/reconcile").path
        let directory = try TemporaryDirectory()
        let site = directory.path + "/site"
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("examples/datacenter").path, toPath: site)
        let siteFile = site + "/site.yaml"
        let text = try String(contentsOfFile: siteFile, encoding: .utf8)
            .replacingOccurrences(of: "/srv/rackswarm/tftp", with: directory.path + "/tftp")
            .replacingOccurrences(of: "/srv/rackswarm/http", with: directory.path + "/http")
        try text.write(toFile: siteFile, atomically: true, encoding: .utf8)
        try directory.write("http/installer/vmlinuz", Data("kernel".utf8))
        try directory.write("http/installer/initramfs.img", Data("initrd".utf8))
        try directory.write("tftp/pxelinux.cfg/default", Data("DEFAULT local\n".utf8))
        let arguments = ["boot", "sync", "--repo", site, "--state", directory.path + "/absent.db"]

        // The kernel is only in the HTTP root: iPXE nodes are written, pxelinux and GRUB nodes fail by name.
        let first = await runTool(binary, arguments)
        #expect(first.status == 1, "\(first.output)")
        #expect(first.output.contains("wrote: r1n1: install"))
        #expect(first.output.contains("failed: boot: missingFile: node 'r2n4'")
                && first.output.contains("\(directory.path)/tftp/installer/vmlinuz"), "\(first.output)")
        #expect(first.output.contains("failed: boot: missingFile: node 'r2n3'"))
        #expect(first.output.contains("dhcp: 8 reservations in \(directory.path)/dnsmasq-hosts"))
        #expect(try directory.read("dnsmasq-hosts").contains("52:54:00:77:02:04,10.77.0.24,r2n4,infinite"))

        // The same facts as JSON (`-o json`), into --out-file.
        let report = directory.path + "/sync.json"
        let json = await runTool(binary, arguments + ["-o", "json", "--out-file", report])
        #expect(json.status == 1, "\(json.output)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect((document["written"] as? [String: String])?["r1n1"] == "install", "\(document)")
        let failed = try #require(document["failed"] as? [String: String])
        #expect(Set(failed.keys).isSuperset(of: ["r2n3", "r2n4"]) && failed["r2n4"]?.contains("missingFile") == true)
        #expect(document["reservations"] as? Int == 8)
        #expect(document["hostsFile"] as? String == directory.path + "/dnsmasq-hosts")
        #expect(!json.output.contains("wrote: "), "the text lines are not printed with -o json")

        try directory.write("tftp/installer/vmlinuz", Data("kernel".utf8))
        try directory.write("tftp/installer/initramfs.img", Data("initrd".utf8))
        let second = await runTool(binary, arguments)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("wrote: r2n4: install") && second.output.contains("wrote: r2n3: install"))
        #expect(try directory.read("tftp/pxelinux.cfg/01-52-54-00-77-02-04").contains("rackswarm.node=r2n4"))
        #expect(try directory.read("tftp/grub/grub.cfg-01-52-54-00-77-02-03").contains("rackswarm.node=r2n3"))

        // r2n4 leaves the repo.
        let rackFile = site + "/racks/r2.yaml"
        let rack = try String(contentsOfFile: rackFile, encoding: .utf8)
        let cut = try #require(rack.range(of: "\n---\n", options: .backwards))
        try String(rack[..<cut.lowerBound]).appending("\n").write(toFile: rackFile, atomically: true, encoding: .utf8)
        let third = await runTool(binary, arguments)
        #expect(third.status == 0, "\(third.output)")
        #expect(third.output.contains("pruned: r2n4"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/tftp/pxelinux.cfg/01-52-54-00-77-02-04"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/tftp/ipxe/01-52-54-00-77-02-04.ipxe"))
        #expect(!(try directory.read("dnsmasq-hosts")).contains("r2n4"))
        #expect(try directory.read("tftp/pxelinux.cfg/default") == "DEFAULT local\n")
    }
}
