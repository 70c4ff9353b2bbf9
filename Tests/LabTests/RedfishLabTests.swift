import Drivers
import Foundation
import LabSupport
import Testing

/// The virtual data center's Redfish side: `vdc.py up` gives a `redfish+http://` node a sushy-emulator in the core
/// namespace; `reconcile power on` through the real Redfish driver starts the node's firmware (it reaches DHCP),
/// `power off` stops it, and `vdc.py down` leaves nothing behind. The emulator applies power changes 1–11 s late.
@Suite(.serialized)
struct RedfishLabTests {
    @Test func redfishPowerStartsAndStopsTheNodeFirmware() async throws {
        try #require(getuid() == 0, "the virtual data center needs root (network namespaces)")
        let reconcile = VirtualDataCenterTests.binaries + "/reconcile"
        try #require(FileManager.default.isExecutableFile(atPath: reconcile), "build reconcile first")
        let base = try await VirtualDataCenterTests.labDirectory("rs-vdcrf")
        let site = base + "/site", lab = base + "/lab"
        try FileManager.default.createDirectory(atPath: site + "/racks", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: site + "/images", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        var tornDown = false
        defer {
            if !tornDown { VirtualDataCenterTests.downSynchronously(lab) }
        }
        try "redfish-secret\n".write(toFile: base + "/bmc.password", atomically: true, encoding: .utf8)
        try """
            apiVersion: rackswarm.io/v1
            kind: Site
            metadata: {name: rflab}
            spec:
              network: {pxeSubnet: 10.78.0.0/24, serverAddress: 10.78.0.1, httpPort: 8080, dhcp: managed}
              boot: {tftpRoot: \(base)/tftp, httpRoot: \(base)/http, afterInstall: localBoot}
              agent: {port: 7700, keyFile: \(base)/site.key}

            """.write(toFile: site + "/site.yaml", atomically: true, encoding: .utf8)
        try """
            apiVersion: rackswarm.io/v1
            kind: Rack
            metadata: {name: r2}
            spec:
              bmc: {username: admin, password: {file: \(base)/bmc.password}}
            ---
            apiVersion: rackswarm.io/v1
            kind: Node
            metadata: {name: rf1}
            spec: {rack: r2, mac: "52:54:00:98:00:01", ip: 10.78.0.21, image: tiny,
                   bmc: {url: "redfish+http://127.0.0.1:8000/redfish/v1/Systems/rf1"}}

            """.write(toFile: site + "/racks/r2.yaml", atomically: true, encoding: .utf8)
        try """
            apiVersion: rackswarm.io/v1
            kind: Image
            metadata: {name: tiny}
            spec: {version: "1", file: images/tiny.img, sha256: \(String(repeating: "a", count: 64)),
                   kernel: boot/vmlinuz, initrd: boot/initrd.img}

            """.write(toFile: site + "/images/tiny.yaml", atomically: true, encoding: .utf8)

        let up = await VirtualDataCenterTests.run("/usr/bin/python3", [VirtualDataCenterTests.vdc, "up", "--site",
                                                                       site, "--lab", lab])
        try #require(up.succeeded, "vdc.py up: \(up.output)")
        func power(_ action: String) async -> CommandResult {
            await VirtualDataCenterTests.run("/usr/bin/python3", [VirtualDataCenterTests.vdc, "exec", lab, "--",
                reconcile, "power", "--repo", site, "rf1", action], timeout: .seconds(90))
        }
        let console = lab + "/nodes/rf1/console.log"
        func waitFor(_ marker: String, after offset: Int = 0) async throws -> Int? {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let text = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
                let tail = text.utf8.dropFirst(offset)
                if let range = String(decoding: tail, as: UTF8.self).range(of: marker) {
                    return offset + String(decoding: tail, as: UTF8.self)[..<range.upperBound].utf8.count
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            return nil
        }
        let on = await power("on")
        #expect(on.succeeded, "\(on.output)")
        let started = try await waitFor("firmware: phase=dhcp interface=eth0 mac=52:54:00:98:00:01")
        let text = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
        #expect(started != nil, "the firmware never started: \(text)")
        let off = await power("off")
        #expect(off.succeeded, "\(off.output)")
        let stopped = try await waitFor("power: off", after: started ?? 0)
        #expect(stopped != nil, "the firmware was never stopped")

        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: lab + "/lab.json")))
            as? [String: Any]
        let prefix = try #require(state?["prefix"] as? String)
        let pids = (state?["pids"] as? [Int]) ?? []
        let down = await VirtualDataCenterTests.run("/usr/bin/python3", [VirtualDataCenterTests.vdc, "down", lab])
        tornDown = true
        #expect(down.succeeded, "\(down.output)")
        #expect(await VirtualDataCenterTests.namespaces().filter { $0.hasPrefix(prefix) }.isEmpty)
        for pid in pids { #expect(!processIsAlive(pid_t(pid)), "process \(pid) outlived the lab") }
    }
}
