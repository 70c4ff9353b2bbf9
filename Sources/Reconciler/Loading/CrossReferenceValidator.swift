import Dispatch
import Foundation
import ReconcilerModel

/// Checks what no single document can: references between kinds and uniqueness across files.
enum CrossReferenceValidator {
    /// `earlierErrors` says whether parsing or decoding already failed somewhere; a missing Site is then not
    /// reported, since the Site document may be the one that failed.
    static func validate(_ files: [[DecodedDocument]], root: String, fileCount: Int, earlierErrors: Bool)
        -> (DesiredState?, [Diagnostic])
    {
        var diagnostics: [Diagnostic] = []
        var sites: [Site] = []
        var racks: [Rack] = []
        var nodes: [Node] = []
        nodes.reserveCapacity(files.reduce(0) { $0 + $1.count })
        var images: [Image] = []
        var services: [Service] = []
        // Move each document out of its file's array rather than copying it: a Node is large.
        let firstDocument = files.first { !$0.isEmpty }?.first
        var files = files
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

        // Node references, credentials and addressing.
        let site = sites.first
        for index in nodes.indices {
            let node = nodes[index].summary
            if let rack = rackIndex[node.rack.value] {
                if nodes[index].bmc.username == nil { nodes[index].bmc.username = rack.bmcUsername }
                if nodes[index].bmc.password == nil { nodes[index].bmc.password = rack.bmcPassword }
            } else {
                diagnostics.append(.error(at: node.rack.location,
                                          "node '\(node.name)' names rack '\(node.rack.value)', which is not defined",
                                          hint: hint(node.rack.value, rackIndex.keys, kind: "Rack")))
            }
            if imageIndex[node.image.value] == nil {
                diagnostics.append(.error(at: node.image.location,
                                          "node '\(node.name)' names image '\(node.image.value)', which is not defined",
                                          hint: hint(node.image.value, imageIndex.keys, kind: "Image")))
            }
            var seenServices: Set<String> = []
            for service in node.services {
                if serviceIndex[service.value] == nil {
                    diagnostics.append(.error(
                        at: service.location,
                        "node '\(node.name)' names service '\(service.value)', which is not defined",
                        hint: hint(service.value, serviceIndex.keys, kind: "Service")))
                }
                if !seenServices.insert(service.value).inserted {
                    diagnostics.append(.error(at: service.location,
                                              "service '\(service.value)' is listed twice on node '\(node.name)'"))
                }
            }
            if rackIndex[node.rack.value] != nil
                && (nodes[index].bmc.username == nil || nodes[index].bmc.password == nil) {
                diagnostics.append(.error(
                    at: node.bmc.location, "node '\(node.name)' has no BMC credentials",
                    hint: "set bmc.username and bmc.password: {env: …} on the node or on rack '\(node.rack.value)'"))
            }
            if let network = site?.network {
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

    private static func hint(_ name: String, _ candidates: Dictionary<String, some Any>.Keys, kind: String) -> String {
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
