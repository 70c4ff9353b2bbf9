import Foundation
import ReconcilerModel

/// Writes synthetic sites of any size, for benchmarks and property tests.
public struct SiteGenerator: Sendable {
    public var nodes: Int
    public var nodesPerRack: Int
    public var firstWave: Int
    /// Each node's BMC URL, in node order (e.g. simulated BMCs); nil: made-up IPMI and Redfish addresses.
    public var bmcURLs: [String]?

    public init(nodes: Int, nodesPerRack: Int = 40, firstWave: Int = 2, bmcURLs: [String]? = nil) {
        self.nodes = nodes
        self.nodesPerRack = max(1, nodesPerRack)
        self.firstWave = firstWave
        self.bmcURLs = bmcURLs
    }

    public var rackCount: Int { (nodes + nodesPerRack - 1) / nodesPerRack }

    /// The files of the site, by relative path.
    public func files() -> [(path: String, text: String)] {
        var files: [(String, String)] = [
            ("site.yaml", siteText),
            ("images/os.yaml", imageText),
            ("services/vod.yaml", Self.vodText),
            ("services/web.yaml", Self.webText),
        ]
        for rack in 0..<rackCount {
            files.append(("racks/\(rackName(rack)).yaml", rackText(rack)))
        }
        return files
    }

    /// Writes the site under `directory` (created if missing).
    public func write(to directory: String) throws {
        let manager = FileManager.default
        for (path, text) in files() {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    func rackName(_ rack: Int) -> String { "r\(String(format: "%04d", rack))" }

    var siteText: String {
        """
        apiVersion: rackswarm.io/v1
        kind: Site
        metadata:
          name: synthetic-\(nodes)
        spec:
          network:
            pxeSubnet: 10.128.0.0/11
            serverAddress: 10.128.0.1
          rollout:
            firstWave: \(firstWave)
            maxUnavailable: 8
            concurrency: 256
            failureBudget: 10

        """
    }

    var imageText: String {
        """
        apiVersion: rackswarm.io/v1
        kind: Image
        metadata:
          name: os
        spec:
          version: "1.0"
          file: images/os.img
          sha256: "\(String(repeating: "ab", count: 32))"
          kernel: boot/vmlinuz
          initrd: boot/initrd.img
          kernelArgs: [console=ttyS0]

        """
    }

    static let vodText = """
        apiVersion: rackswarm.io/v1
        kind: Service
        metadata:
          name: vod
        spec:
          software:
            - {name: "cd#1", rpm: std_cd-1.0-1.i386.rpm, order: 1, script: null, process: null}
            - {name: "cs#1", rpm: std_cs-1.0-1.i386.rpm, order: 2, script: /etc/init.d/cs, process: mediaServer}

        """

    static let webText = """
        apiVersion: rackswarm.io/v1
        kind: Service
        metadata:
          name: web
        spec:
          software:
            - {name: "apache#1", rpm: httpd-2.2.9-4.Gxdl.i386.rpm, order: 1, script: /etc/init.d/httpd, process: httpd}

        """

    func rackText(_ rack: Int) -> String {
        var text = """
            apiVersion: rackswarm.io/v1
            kind: Rack
            metadata:
              name: \(rackName(rack))
            spec:
              bmc:
                username: admin
                password: {env: RACKSWARM_BMC_PASSWORD}

            """
        let first = rack * nodesPerRack
        for index in first..<min(nodes, first + nodesPerRack) {
            let host = index + 16
            let ip = "10.\(128 + (host >> 16)).\((host >> 8) & 0xFF).\(host & 0xFF)"
            let mac = String(format: "52:54:%02x:%02x:%02x:%02x", (index >> 24) & 0xFF, (index >> 16) & 0xFF,
                             (index >> 8) & 0xFF, index & 0xFF)
            let madeUp = index % 2 == 0 ? "ipmi://10.200.\((index >> 8) & 0xFF).\(index & 0xFF):\(623 + (index >> 16))"
                : "redfish+https://bmc-\(index).example.net/redfish/v1/Systems/1"
            let bmc = bmcURLs.map { $0[index % $0.count] } ?? madeUp
            let service = index % 3 == 0 ? "web" : "vod"
            text += """
                ---
                apiVersion: rackswarm.io/v1
                kind: Node
                metadata:
                  name: n\(index)
                  labels: {role: \(service)}
                spec:
                  rack: \(rackName(rack))
                  mac: "\(mac)"
                  ip: \(ip)
                  bmc: {url: "\(bmc)"}
                  image: os
                  services: [\(service)]

                """
        }
        return text
    }
}
