/// Site YAML the tests write: one shape for a lab's Node documents, whichever lab writes them.
public enum SiteYAML {
    /// One Node document, opening with `---` and ending in a blank line. `bmc` is the BMC's URL; `services` nil
    /// leaves the key out.
    public static func node(
        _ name: String, rack: String = "r1", mac: String, ip: String, bmc: String, bootLoader: String? = nil,
        image: String = "os", services: [String]? = []
    ) -> String {
        var text = """
            ---
            apiVersion: rackswarm.io/v1
            kind: Node
            metadata: {name: \(name)}
            spec:
              rack: \(rack)
              mac: "\(mac)"
              ip: \(ip)
              bmc: {url: "\(bmc)"}

            """
        if let bootLoader { text += "  bootLoader: \(bootLoader)\n" }
        text += "  image: \(image)\n"
        if let services { text += "  services: [\(services.joined(separator: ", "))]\n" }
        return text + "\n"
    }
}
