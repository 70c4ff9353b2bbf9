import Dispatch
import Foundation
import ReconcilerModel

/// Checks what no single document can: references between kinds and uniqueness across files.
enum CrossReferenceValidator {
    /// `earlierErrors` says whether parsing or decoding already failed somewhere; a missing Site is then not
    /// reported, since the Site document may be the one that failed.
    static func validate(_ files: consuming [[DecodedDocument]], root: String, fileCount: Int, earlierErrors: Bool)
        -> (DesiredState?, [Diagnostic])
    {
        var diagnostics: [Diagnostic] = []
        var sites: [Site] = []
        var racks: [Rack] = []
        var nodes: [Node] = []
        nodes.reserveCapacity(files.reduce(0) { $0 + $1.count })
        var images: [Image] = []
        var services: [Service] = []
        // Move each document out of its file's array rather than copying it (a Node is large), and free each
        // file's array once emptied: `files` is the only reference (the caller gives it up).
        let firstDocument = files.first { !$0.isEmpty }?.first
        for index in files.indices {
            var documents = files[index]
            files[index] = []
            documents.reverse()
            while let document = documents.popLast() {
                switch document {
                case .site(let site): sites.append(site)
                case .rack(let rack): racks.append(rack)
                case .node(let node): nodes.append(node)
                case .image(let image): images.append(image)
                case .service(let service): services.append(service)
                }
            }
        }

        // Exactly one Site.
        if sites.count > 1 {
            for extra in sites.dropFirst() {
                diagnostics.append(.error(at: extra.location, "a second Site '\(extra.name)'; a repo describes one site",
                                          related: [.init(location: sites[0].location, message: "first Site is here")]))
            }
        }

        // Unique names per kind.
        let rackIndex = uniqueIndex(racks, kind: "rack", key: \.name, location: \.location, into: &diagnostics)
            .mapValues { racks[$0] }
        let imageIndex = uniqueIndex(images, kind: "image", key: \.name, location: \.location, into: &diagnostics)
        let serviceIndex = uniqueIndex(services, kind: "service", key: \.name, location: \.location,
                                       into: &diagnostics)
        diagnostics += nodeUniqueness(nodes)

        // Services: unique install orders and software names.
        for service in services {
            var orders: [Int: Software] = [:]
            var names: [String: Software] = [:]
            for software in service.software {
                if let first = orders[software.order] {
                    diagnostics.append(.error(
                        at: software.location,
                        "install order \(software.order) is used twice in service '\(service.name)'",
                        hint: "give '\(software.name)' and '\(first.name)' distinct orders",
                        related: [.init(location: first.location, message: "order \(software.order) first used here")]))
                } else {
                    orders[software.order] = software
                }
                if let first = names[software.name] {
                    diagnostics.append(.error(
                        at: software.location, "software '\(software.name)' is listed twice in service '\(service.name)'",
                        related: [.init(location: first.location, message: "first listed here")]))
                } else {
                    names[software.name] = software
                }
            }
        }

        // Node references, credentials and addressing: independent per node, so checked in slices on every core
        // (each slice writes only its own nodes); diagnostics come back in node order.
        let site = sites.first
        let references = NodeReferences(racks: rackIndex, images: imageIndex, services: serviceIndex,
                                        network: site?.network)
        let slices = nodes.count < 2048 ? 1 : 4 * ProcessInfo.processInfo.activeProcessorCount
        let found = DiagnosticSlots(count: slices)
        let count = nodes.count
        nodes.withUnsafeMutableBufferPointer { buffer in
            let shared = SharedNodes(buffer: buffer)
            DispatchQueue.concurrentPerform(iterations: slices) { slice in
                var sliceDiagnostics: [Diagnostic] = []
                for index in (count * slice / slices)..<(count * (slice + 1) / slices) {
                    references.check(&shared.buffer[index], into: &sliceDiagnostics)
                }
                found.set(slice, sliceDiagnostics)
            }
        }
        diagnostics += found.values.flatMap { $0 }

        if site == nil && fileCount > 0 && !earlierErrors {
            let first = firstDocument
            let location = first.map(firstLocation) ?? SourceLocation(file: root, line: 0, column: 0)
            diagnostics.append(.error(at: location, "no Site document found",
                                      hint: "add a document with 'kind: Site' that describes the provisioning network"))
        }
        if fileCount == 0 {
            diagnostics.append(.error(at: SourceLocation(file: root, line: 0, column: 0),
                                      "no YAML files (*.yaml, *.yml) found"))
        }
        guard let site, diagnostics.isEmpty else { return (nil, diagnostics) }
        return (DesiredState(site: site, racks: racks, nodes: nodes, images: images, services: services), diagnostics)
    }

    /// Node names, MACs, IPs and BMCs must each be unique: four independent indexes, built side by side.
    /// Diagnostics come back in a fixed order whatever finished first.
    private static func nodeUniqueness(_ nodes: [Node]) -> [Diagnostic] {
        let results = DiagnosticSlots(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { check in
            var found: [Diagnostic] = []
            switch check {
            case 0:
                _ = uniqueIndex(nodes, kind: "node", key: \.name, location: \.location, into: &found)
            case 1:
                _ = uniqueIndex(nodes, kind: "MAC address", key: \.mac.value, location: \.mac.location, owner: \.name,
                                into: &found)
            case 2:
                _ = uniqueIndex(nodes, kind: "IP address", key: \.ip.value, location: \.ip.location, owner: \.name,
                                into: &found)
            default:
                _ = uniqueIndex(nodes, kind: "BMC", key: \.bmc.endpoint.value, location: \.bmc.endpoint.location,
                                owner: \.name, into: &found)
            }
            results.set(check, found)
        }
        return results.values.flatMap { $0 }
    }

    private static func firstLocation(_ document: DecodedDocument) -> SourceLocation {
        switch document {
        case .site(let x): x.location
        case .rack(let x): x.location
        case .node(let x): x.location
        case .image(let x): x.location
        case .service(let x): x.location
        }
    }

    fileprivate static func hint(_ name: String, _ candidates: Dictionary<String, some Any>.Keys, kind: String)
        -> String {
        Suggestions.didYouMean(name, in: candidates) ?? "define it with a document of 'kind: \(kind)'"
    }

    /// Indexes `items` by a key (to the item's position), reporting every repeat with a pointer to the first.
    private static func uniqueIndex<T, Key: Hashable & CustomStringConvertible>(
        _ items: [T], kind: String, key: (T) -> Key, location: (T) -> SourceLocation,
        owner: ((T) -> String)? = nil, into diagnostics: inout [Diagnostic]
    ) -> [Key: Int] {
        var index: [Key: Int] = [:]
        index.reserveCapacity(items.count)
        for position in items.indices {
            let item = items[position]
            let value = key(item)
            if let firstPosition = index[value] {
                let first = items[firstPosition]
                let whose = owner.map { " of node '\($0(item))'" } ?? ""
                let firstWhose = owner.map { " (node '\($0(first))')" } ?? ""
                diagnostics.append(.error(
                    at: location(item), "duplicate \(kind) '\(value)'\(whose)",
                    related: [.init(location: location(first), message: "first defined here\(firstWhose)")]))
            } else {
                index[value] = position
            }
        }
        return index
    }
}

/// The nodes being checked, shared by the slices of the reference check; each slice touches its own indices only.
private struct SharedNodes: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Node>
}

/// What a node's references are checked against: the racks, images and services by name, the PXE network.
private struct NodeReferences: Sendable {
    let racks: [String: Rack]
    let images: [String: Int]
    let services: [String: Int]
    let network: ProvisioningNetwork?

    init(racks: [String: Rack], images: [String: Int], services: [String: Int], network: ProvisioningNetwork?) {
        self.racks = racks
        self.images = images
        self.services = services
        self.network = network
    }

    /// Checks one node's references, fills its BMC credentials from its rack, and reports what is wrong.
    func check(_ full: inout Node, into diagnostics: inout [Diagnostic]) {
        let node = full.summary
        let rack = racks[node.rack.value]
        if let rack {
            if full.bmc.username == nil { full.bmc.username = rack.bmcUsername }
            if full.bmc.password == nil { full.bmc.password = rack.bmcPassword }
        } else {
            diagnostics.append(.error(at: node.rack.location,
                                      "node '\(node.name)' names rack '\(node.rack.value)', which is not defined",
                                      hint: CrossReferenceValidator.hint(node.rack.value, racks.keys, kind: "Rack")))
        }
        if images[node.image.value] == nil {
            diagnostics.append(.error(at: node.image.location,
                                      "node '\(node.name)' names image '\(node.image.value)', which is not defined",
                                      hint: CrossReferenceValidator.hint(node.image.value, images.keys, kind: "Image")))
        }
        for (position, service) in node.services.enumerated() {
            if services[service.value] == nil {
                diagnostics.append(.error(
                    at: service.location,
                    "node '\(node.name)' names service '\(service.value)', which is not defined",
                    hint: CrossReferenceValidator.hint(service.value, services.keys, kind: "Service")))
            }
            // A node lists a few services: a repeat is found by looking back, without a set per node.
            if node.services[..<position].contains(where: { $0.value == service.value }) {
                diagnostics.append(.error(at: service.location,
                                          "service '\(service.value)' is listed twice on node '\(node.name)'"))
            }
        }
        if rack != nil && (full.bmc.username == nil || full.bmc.password == nil) {
            diagnostics.append(.error(
                at: node.bmc.location, "node '\(node.name)' has no BMC credentials",
                hint: "set bmc.username and bmc.password: {env: …} on the node or on rack '\(node.rack.value)'"))
        }
        if let network {
            if !network.pxeSubnet.contains(node.ip.value) {
                diagnostics.append(.error(
                    at: node.ip.location,
                    "node '\(node.name)' has ip \(node.ip.value), outside the PXE subnet \(network.pxeSubnet)"))
            } else if node.ip.value == network.serverAddress {
                diagnostics.append(.error(
                    at: node.ip.location,
                    "node '\(node.name)' has ip \(node.ip.value), the provisioning server's own address"))
            }
        }
    }
}

extension Node {
    /// The fields the cross-reference checks read, without copying the whole node.
    fileprivate struct Summary {
        var name: String
        var rack: Located<String>
        var image: Located<String>
        var ip: Located<IPv4Address>
        var services: [Located<String>]
        var bmc: Located<BMCEndpoint>
    }

    fileprivate var summary: Summary {
        Summary(name: name, rack: rack, image: image, ip: ip, services: services, bmc: bmc.endpoint)
    }
}

/// One result slot per concurrent check, each written once.
private final class DiagnosticSlots: @unchecked Sendable {
    private var slots: [[Diagnostic]]
    private let lock = NSLock()

    init(count: Int) {
        slots = Array(repeating: [], count: count)
    }

    func set(_ index: Int, _ value: [Diagnostic]) {
        lock.withLock { slots[index] = value }
    }

    var values: [[Diagnostic]] { lock.withLock { slots } }
}
