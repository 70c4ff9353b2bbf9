import LabSupport

/// One node of a package-lab site: its addresses, its BMC port on loopback and its services.
struct LabSiteNode {
    var name: String
    var mac: String
    var ip: String
    var bmcPort: Int
    var services: [String] = []
}

/// The site YAML the package tests load: one Site, rack `r1` with the lab's BMC credentials, the given image (and
/// service) documents, and one Node document per node on image `os`.
enum LabSite {
    /// `agent` is the Site's `spec.agent` flow mapping (e.g. `{port: 9000, keyFile: "k"}`), nil for none;
    /// `documents` are the Image/Service documents, each ending in a newline.
    static func yaml(name: String, subnet: String, server: String, agent: String? = nil, documents: String,
                     nodes: [LabSiteNode]) -> String {
        var text = """
            apiVersion: rackswarm.io/v1
            kind: Site
            metadata: {name: \(name)}
            spec:
              network: {pxeSubnet: \(subnet), serverAddress: \(server)}
            \(agent.map { "  agent: \($0)\n" } ?? "")---
            apiVersion: rackswarm.io/v1
            kind: Rack
            metadata: {name: r1}
            spec: {bmc: {username: admin, password: {env: BMC_PASSWORD}}}
            ---
            \(documents)
            """
        for node in nodes {
            text += SiteYAML.node(node.name, mac: node.mac, ip: node.ip, bmc: "ipmi://127.0.0.1:\(node.bmcPort)",
                                  services: node.services)
        }
        return text
    }
}
