import RackswarmCore
import ReconcilerModel

/// The kinds of document a site directory holds.
public enum Kind: String, Sendable, CaseIterable, Codable {
    case site = "Site"
    case rack = "Rack"
    case node = "Node"
    case image = "Image"
    case service = "Service"
}

/// What one YAML document decoded to. All but a node are boxed: the array of a file's documents then costs a
/// Node's size per document, not the largest kind's (a Site's).
enum DecodedDocument {
    indirect case site(Site)
    indirect case rack(Rack)
    case node(Node)
    indirect case image(Image)
    indirect case service(Service)
}

/// Decodes the documents of one file into model values.
struct DocumentDecoder {
    static let apiVersion = "rackswarm.io/v1"

    var fields: FieldDecoder

    init(file: String) {
        fields = FieldDecoder(file: file)
    }

    var diagnostics: [Diagnostic] { fields.diagnostics }

    mutating func decode(_ root: YAMLNode) -> DecodedDocument? {
        guard let doc = fields.mapping(root, "a document", known: ["apiVersion", "kind", "metadata", "spec"]) else {
            return nil
        }
        var ok = true
        if let node = fields.require(doc, "apiVersion"), let version = fields.string(node, "apiVersion"),
           version != Self.apiVersion {
            fields.error(node, "unsupported apiVersion '\(version)'; expected '\(Self.apiVersion)'")
            ok = false
        }
        guard let kindNode = fields.require(doc, "kind"), let kind: Kind = fields.enumeration(kindNode, "kind") else {
            return nil
        }
        let context = kind.rawValue
        guard let metaNode = fields.require(doc, "metadata"),
              let meta = fields.mapping(metaNode, "\(context) metadata", known: ["name", "labels", "annotations"]),
              let nameNode = fields.require(meta, "name"),
              let name = fields.name(nameNode, "\(context.lowercased()) name")
        else { return nil }
        let labels = meta.value("labels").map { fields.stringMap($0, "labels") } ?? [:]
        if let annotations = meta.value("annotations") { _ = fields.stringMap(annotations, "annotations") }
        let location = fields.location(nameNode)
        let described = "\(context) '\(name)'"
        let specNode = doc.value("spec") ?? YAMLNode(.mapping([]), line: root.line, column: root.column)
        let before = fields.diagnostics.count
        let result: DecodedDocument?
        switch kind {
        case .site: result = decodeSite(specNode, name: name, location: location, context: described).map { .site($0) }
        case .rack: result = decodeRack(specNode, name: name, labels: labels, location: location, context: described)
            .map { .rack($0) }
        case .node: result = decodeNode(specNode, name: name, labels: labels, location: location, context: described)
            .map { .node($0) }
        case .image: result = decodeImage(specNode, name: name, location: location, context: described)
            .map { .image($0) }
        case .service: result = decodeService(specNode, name: name, location: location, context: described)
            .map { .service($0) }
        }
        guard ok, fields.diagnostics.count == before else { return nil }
        return result
    }

    // MARK: Site

    private mutating func decodeSite(_ node: YAMLNode, name: String, location: SourceLocation, context: String)
        -> Site?
    {
        guard let spec = fields.mapping(
            node, "\(context) spec",
            known: ["network", "boot", "rollout", "timeouts", "agent", "prune", "interval", "verify", "ipmi", "store",
                    "decommission", "distribution"]) else { return nil }
        var network: ProvisioningNetwork?
        if let netNode = fields.require(spec, "network"),
           let net = fields.mapping(netNode, "network", known: ["pxeSubnet", "serverAddress", "httpPort", "dhcp"]) {
            let subnet = fields.require(net, "pxeSubnet").flatMap { fields.network($0, "network.pxeSubnet") }
            let server = fields.require(net, "serverAddress").flatMap { fields.ipv4($0, "network.serverAddress") }
            let port = net.value("httpPort").map { fields.int($0, "network.httpPort", range: 1...65535) } ?? 8080
            let dhcp: ProvisioningNetwork.DHCPMode? =
                net.value("dhcp").map { fields.enumeration($0, "network.dhcp") } ?? .managed
            if let subnet, let server, let port, let dhcp {
                if !subnet.contains(server), let serverNode = net.value("serverAddress") {
                    fields.error(serverNode, "serverAddress \(server) is outside the PXE subnet \(subnet)")
                }
                network = ProvisioningNetwork(pxeSubnet: subnet, serverAddress: server, httpPort: port, dhcp: dhcp)
            }
        }
        var boot = BootSettings(tftpRoot: "/srv/rackswarm/tftp", httpRoot: "/srv/rackswarm/http",
                                afterInstall: .localBoot)
        if let bootNode = spec.value("boot"),
           let reader = fields.mapping(bootNode, "boot", known: ["tftpRoot", "httpRoot", "afterInstall"]) {
            if let value = reader.value("tftpRoot"), let path = fields.string(value, "boot.tftpRoot") {
                boot.tftpRoot = path
            }
            if let value = reader.value("httpRoot"), let path = fields.string(value, "boot.httpRoot") {
                boot.httpRoot = path
            }
            if let value = reader.value("afterInstall"), let mode: BootSettings.AfterInstall =
                fields.enumeration(value, "boot.afterInstall") {
                boot.afterInstall = mode
            }
        }
        var rollout = RolloutPolicy.defaults
        var windows = MaintenanceWindows.none
        if let rolloutNode = spec.value("rollout"),
           let reader = fields.mapping(rolloutNode, "rollout", known: [
               "firstWave", "maxUnavailable", "concurrency", "failureBudget", "canary", "windows", "windowScope"]) {
            windows = decodeWindows(reader) ?? .none
            if let v = reader.value("firstWave"), let n = fields.int(v, "rollout.firstWave", range: 1...Int.max) {
                rollout.firstWave = n
            }
            if let v = reader.value("maxUnavailable"),
               let n = fields.int(v, "rollout.maxUnavailable", range: 1...Int.max) {
                rollout.maxUnavailable = n
            }
            if let v = reader.value("concurrency"), let n = fields.int(v, "rollout.concurrency", range: 1...Int.max) {
                rollout.concurrency = n
            }
            if let v = reader.value("failureBudget"),
               let n = fields.int(v, "rollout.failureBudget", range: 0...Int.max) {
                rollout.failureBudget = n
            }
            if let v = reader.value("canary"), let b = fields.bool(v, "rollout.canary") { rollout.canary = b }
        }
        var timeouts = StepTimeouts.defaults
        if let timeoutNode = spec.value("timeouts"),
           let reader = fields.mapping(
               timeoutNode, "timeouts", known: ["power", "install", "services", "bmcRequest", "bmcRetries"]) {
            if let v = reader.value("power"), let d = fields.duration(v, "timeouts.power") { timeouts.power = d }
            if let v = reader.value("install"), let d = fields.duration(v, "timeouts.install") { timeouts.install = d }
            if let v = reader.value("bmcRequest"), let d = fields.duration(v, "timeouts.bmcRequest") {
                timeouts.bmcRequest = d
            }
            if let v = reader.value("bmcRetries"), let n = fields.int(v, "timeouts.bmcRetries", range: 0...10) {
                timeouts.bmcRetries = n
            }
            if let v = reader.value("services"), let d = fields.duration(v, "timeouts.services") {
                timeouts.services = d
            }
        }
        let agent = spec.value("agent").map { decodeAgent($0) } ?? AgentSettings.defaults
        var store = StoreSettings.defaults
        if let storeNode = spec.value("store"), let reader = fields.mapping(storeNode, "store", known: ["retention"]),
            let v = reader.value("retention") { store.retention = fields.duration(v, "store.retention") }
        let prune = spec.value("prune").map { fields.bool($0, "prune") } ?? false
        let interval = spec.value("interval").map { fields.duration($0, "interval") } ?? .seconds(300)
        let verify = spec.value("verify").flatMap { decodeVerify($0) }
        let suites = spec.value("ipmi").map { decodeIPMI($0) } ?? [17, 3]
        let decommission = spec.value("decommission").map { decodeDecommission($0) } ?? .keepDisks
        var distribution = DistributionSettings.defaults
        if let node = spec.value("distribution"),
            let reader = fields.mapping(node, "distribution", known: ["keepInRack"]),
            let v = reader.value("keepInRack"), let keep = fields.bool(v, "distribution.keepInRack") {
            distribution.keepInRack = keep
        }
        guard let network, let prune, let interval, let suites, let decommission else { return nil }
        return Site(name: name, location: location, network: network, boot: boot, rollout: rollout,
                    timeouts: timeouts, agent: agent, prune: prune, interval: interval, verify: verify,
                    windows: windows, ipmiCipherSuites: suites, store: store, decommission: decommission,
                    distribution: distribution)
    }

    // MARK: Rack

    private mutating func decodeRack(
        _ node: YAMLNode, name: String, labels: [String: String], location: SourceLocation, context: String
    ) -> Rack? {
        guard let spec = fields.mapping(
            node, "\(context) spec", known: ["firstWave", "maxUnavailable", "bmc", "rollout"]) else { return nil }
        var rack = Rack(name: name, location: location, labels: labels)
        if let rollout = spec.value("rollout"),
           let reader = fields.mapping(rollout, "\(context) rollout", known: ["windows", "windowScope"]) {
            rack.windows = decodeWindows(reader)
        }
        if let v = spec.value("firstWave") { rack.firstWave = fields.int(v, "firstWave", range: 1...Int.max) }
        if let v = spec.value("maxUnavailable") {
            rack.maxUnavailable = fields.int(v, "maxUnavailable", range: 1...Int.max)
        }
        if let bmcNode = spec.value("bmc"),
           let bmc = fields.mapping(bmcNode, "rack bmc defaults", known: ["username", "password"]) {
            rack.bmcUsername = fields.optionalString(bmc.value("username"), "bmc.username")
            if let v = bmc.value("password") { rack.bmcPassword = fields.secret(v, "bmc.password") }
        }
        return rack
    }

    // MARK: Node

    private mutating func decodeNode(
        _ node: YAMLNode, name: String, labels: [String: String], location: SourceLocation, context: String
    ) -> Node? {
        guard let spec = fields.mapping(
            node, "\(context) spec",
            known: ["rack", "mac", "ip", "bmc", "bootLoader", "image", "services", "state"])
        else { return nil }
        let rack = locate(fields.require(spec, "rack")) { $0.name($1, "rack name") }
        let mac = locate(fields.require(spec, "mac")) { $0.mac($1) }
        let ip = locate(fields.require(spec, "ip")) { $0.ipv4($1, "ip") }
        let image = locate(fields.require(spec, "image")) { $0.name($1, "image name") }
        var bmc: BMC?
        if let bmcNode = fields.require(spec, "bmc"),
           let reader = fields.mapping(bmcNode, "\(context) bmc",
                                       known: ["url", "username", "password", "insecureSkipVerify"]) {
            let endpoint = locate(fields.require(reader, "url")) { $0.bmcEndpoint($1) }
            let username = fields.optionalString(reader.value("username"), "bmc.username")
            let password = reader.value("password").flatMap { fields.secret($0, "bmc.password") }
            let insecure = reader.value("insecureSkipVerify").map { fields.bool($0, "bmc.insecureSkipVerify") } ?? false
            if let endpoint, let insecure {
                if insecure && endpoint.value.scheme == BMCEndpoint.Scheme.ipmi, let flag = reader.keyNode("insecureSkipVerify") {
                    fields.error(flag, "insecureSkipVerify applies to Redfish and iLO BMCs only; IPMI has no TLS")
                }
                bmc = BMC(endpoint: endpoint, username: username, password: password, insecureSkipVerify: insecure)
            }
        }
        let loader: Node.BootLoader? = spec.value("bootLoader").map { fields.enumeration($0, "bootLoader") } ?? .ipxe
        let services: [Located<String>]? = spec.value("services").map { list in
            guard let entries = fields.stringList(list, "services") else { return nil }
            for entry in entries where !FieldDecoder.isValidName(entry.value) {
                fields.diagnostics.append(.error(at: entry.location, "invalid service name '\(entry.value)'"))
            }
            return entries
        } ?? []
        let state: Node.State? = spec.value("state").map { fields.enumeration($0, "state") } ?? .present
        guard let rack, let mac, let ip, let image, let bmc, let loader, let services, let state else { return nil }
        return Node(name: name, location: location, labels: labels, rack: rack, mac: mac, ip: ip, bmc: bmc,
                    bootLoader: loader, image: image, services: services, state: state)
    }

    // MARK: Image

    private mutating func decodeImage(_ node: YAMLNode, name: String, location: SourceLocation, context: String)
        -> Image?
    {
        guard let spec = fields.mapping(
            node, "\(context) spec",
            known: ["version", "file", "url", "sha256", "kernel", "initrd", "kernelArgs", "pieceSize", "postInstall",
                    "rootPartition"])
        else { return nil }
        let version = fields.require(spec, "version").flatMap { fields.string($0, "version") }
        var source: Image.Source?
        switch (spec.value("file"), spec.value("url")) {
        case (let file?, nil):
            if let text = fields.string(file, "file") {
                do throws(ConfinedPath.Refusal) {
                    try ConfinedPath.checkWritten(text)
                    source = .file(text)
                } catch {
                    fields.error(file, "image file \(error.message)",
                                 hint: "commit the image under the site directory and name it relative to it")
                }
            }
        case (nil, let url?):
            if let text = fields.string(url, "url") {
                if text.hasPrefix("http://") || text.hasPrefix("https://") || text.hasPrefix("file://") {
                    source = .url(text)
                } else {
                    fields.error(url, "image url '\(text)' must start with http://, https:// or file://")
                }
            }
        case (.some, .some):
            fields.error(spec.keyNode("url") ?? spec.node, "an image takes 'file' or 'url', not both")
        case (nil, nil):
            fields.error(spec.node, "missing required field 'file' (or 'url') in \(context) spec")
        }
        let sha = locate(fields.require(spec, "sha256")) { fields, node -> String? in
            guard let text = fields.string(node, "sha256") else { return nil }
            let lower = text.lowercased()
            guard lower.utf8.count == 64, lower.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
            else {
                fields.error(node, "sha256 must be 64 hex digits, found \(text.count) characters")
                return nil
            }
            return lower
        }
        let kernel = locate(fields.require(spec, "kernel")) { $0.string($1, "kernel") }
        let initrd = locate(fields.require(spec, "initrd")) { $0.string($1, "initrd") }
        var kernelArgs: [String] = []
        if let argsNode = spec.value("kernelArgs") {
            if case .sequence = argsNode.content {
                kernelArgs = (fields.stringList(argsNode, "kernelArgs") ?? []).map(\.value)
            } else if let text = fields.string(argsNode, "kernelArgs") {
                kernelArgs = text.split(separator: " ").map(String.init)
            }
        }
        var pieceSize: Int?
        if let sizeNode = spec.value("pieceSize"),
           let size = fields.byteSize(sizeNode, "pieceSize", in: Quantity.pieceSizes) {
            if size.nonzeroBitCount == 1 {
                pieceSize = Int(size)
            } else {
                fields.error(sizeNode, "pieceSize must be a power of two between 16KiB and 64MiB, "
                    + "found '\(Quantity.describe(bytes: size))'")
            }
        }
        let post = spec.value("postInstall").map { list in
            fields.pairList(list, "postInstall", item: "a postInstall action",
                            ("name", { $0.string($1, "postInstall name") }),
                            ("run", { $0.string($1, "postInstall run") }), make: PostInstallAction.init)
        } ?? []
        var rootPartition: String?
        if let partitionNode = spec.value("rootPartition") {
            let text: String? = if case .scalar(let raw, .plain) = partitionNode.content, Int(raw) != nil { raw }
                else { fields.string(partitionNode, "rootPartition") }
            if let text {
                let valid = (Int(text).map { $0 >= 1 && $0 <= 128 } ?? false)
                    || ((text.hasPrefix("LABEL=") || text.hasPrefix("UUID=")) && !text.contains(" ")
                        && !text.hasSuffix("="))
                if valid {
                    rootPartition = text
                } else {
                    fields.error(partitionNode,
                                 "rootPartition must be LABEL=name, UUID=uuid or a partition number, found '\(text)'")
                }
            }
        }
        guard let version, let source, let sha, let kernel, let initrd else { return nil }
        return Image(name: name, location: location, version: version, source: source, sha256: sha, kernel: kernel,
                     initrd: initrd, kernelArgs: kernelArgs, pieceSize: pieceSize, postInstall: post,
                     rootPartition: rootPartition)
    }

    // MARK: Service

    private mutating func decodeService(_ node: YAMLNode, name: String, location: SourceLocation, context: String)
        -> Service?
    {
        guard let spec = fields.mapping(node, "\(context) spec", known: ["description", "repositories", "software"])
        else { return nil }
        let description = fields.optionalString(spec.value("description"), "description")
        let repositories = spec.value("repositories").map { list in
            fields.pairList(list, "repositories", item: "a repository", ("name", { $0.name($1, "repository name") }),
                            ("baseurl", { $0.string($1, "baseurl") }), make: PackageRepository.init)
        } ?? []
        var software: [Software] = []
        if let listNode = fields.require(spec, "software") {
            if case .sequence(let items) = listNode.content, !items.isEmpty {
                for item in items {
                    guard let reader = fields.mapping(
                        item, "a software entry", known: ["name", "rpm", "order", "script", "process"]) else { continue }
                    let n = fields.require(reader, "name").flatMap { fields.string($0, "software name") }
                    let rpm = fields.require(reader, "rpm").flatMap { rpmNode -> String? in
                        guard let text = fields.string(rpmNode, "rpm") else { return nil }
                        guard !text.contains(where: \.isWhitespace), !text.contains("/") else {
                            fields.error(rpmNode, "rpm '\(text)' must be a package file or name, without spaces or '/'")
                            return nil
                        }
                        guard !text.hasPrefix("-") else {
                            fields.error(rpmNode, "rpm '\(text)' starts with '-': dnf would read it as an option")
                            return nil
                        }
                        return text
                    }
                    let order = fields.require(reader, "order").flatMap { fields.int($0, "order", range: 1...Int.max) }
                    let script = fields.optionalString(reader.value("script"), "script")
                    if let script, let node = reader.value("script") {
                        if !script.hasPrefix("/") {
                            fields.error(node, "start script '\(script)' must be an absolute path")
                        } else if script.split(separator: "/").contains("..") {
                            fields.error(node, "start script '\(script)' has a '..' component: it could leave the "
                                + "node's install root")
                        }
                    }
                    let process = fields.optionalString(reader.value("process"), "process")
                    if let n, let rpm, let order {
                        software.append(Software(name: n, rpm: rpm, order: order, script: script, process: process,
                                                 location: fields.location(item)))
                    }
                }
            } else {
                fields.error(listNode, "expected a non-empty list for software, found \(listNode.shapeName)")
            }
        }
        return Service(name: name, location: location, description: description, repositories: repositories,
                       software: software)
    }

    /// Reads an optional node with `read` and pairs the value with the node's location.
    private mutating func locate<T: Sendable & Hashable>(
        _ node: YAMLNode?, _ read: (inout FieldDecoder, YAMLNode) -> T?
    ) -> Located<T>? {
        guard let node, let value = read(&fields, node) else { return nil }
        return Located(value, at: fields.location(node))
    }
}
