/// Writes and removes the network boot entries of nodes.
public protocol BootDriver: Sendable {
    /// Writes the node's entry (install or local boot) atomically; returns the paths written.
    @discardableResult
    func write(_ entry: BootEntry) async throws -> [String]
    /// Removes every file of the node; a node with no files is not an error.
    func remove(node: String) async throws
    /// Removes the files of every node rackswarm wrote that is not in `keeping`; returns the nodes pruned.
    func prune(keeping nodes: Set<String>) async throws -> [String]
    /// The one-time token of the node's install entry (see `InstallTokenMinter`); nil when the node has no install
    /// entry, or the driver writes entries without tokens.
    func installToken(node: String) async throws -> String?
    /// Every node that has an entry now, with what it is: what a reconciler that takes over a rack rewrites.
    func writtenEntries() async throws -> [String: WrittenEntry]
    /// Writes `entry` only if the node's entry is of the same kind now (an install of the same image, or a local
    /// boot), checked and written as one step against other writers; answers whether it wrote. A rewrite never
    /// undoes what another reconciler changed meanwhile (an install's `rebooting` report flipping it to local boot).
    @discardableResult
    func rewrite(_ entry: BootEntry) async throws -> Bool
}

/// The kind of entry a node has in the boot roots.
public enum WrittenEntry: Sendable, Hashable {
    /// An install (or erase) entry for this `name@version`.
    case install(image: String)
    case localBoot

    /// The kind of `entry`.
    public init(_ entry: BootEntry) {
        if case .install(let install) = entry.mode { self = .install(image: install.imageReference) } else {
            self = .localBoot
        }
    }
}

/// Installs DHCP host reservations (MAC → IP, hostname, boot file) for the provisioning network.
public protocol DHCPReservationDriver: Sendable {
    /// Makes the DHCP server hand out exactly these reservations.
    func apply(_ reservations: [DHCPReservation]) async throws
}

/// One node's DHCP reservation.
public struct DHCPReservation: Sendable, Hashable, Codable {
    public var node: String
    public var mac: String
    public var ip: String
    public var loader: BootEntry.Loader

    public init(node: String, mac: String, ip: String, loader: BootEntry.Loader) {
        self.node = node
        self.mac = PXEName.colonForm(mac) ?? mac.lowercased()
        self.ip = ip
        self.loader = loader
    }

    public init(_ entry: BootEntry) {
        self.init(node: entry.node, mac: entry.mac, ip: entry.ip, loader: entry.loader)
    }
}

extension BootEntry {
    /// Entries that share a MAC or an IP with another entry, each with an error naming both nodes.
    ///
    /// Every node of a collision gets the error, so none of them is booted into another node's identity.
    public static func collisions(_ entries: [BootEntry]) -> [String: BootError] {
        var errors: [String: BootError] = [:]
        func check(_ key: (BootEntry) -> String, _ code: BootError.Code, _ what: String) {
            // One pass finds the values seen twice; only their entries are grouped (no copy of every entry).
            var first: [String: Int] = [:]
            first.reserveCapacity(entries.count)
            var repeated: [String: [Int]] = [:]
            for index in entries.indices {
                let value = key(entries[index])
                if let earlier = first[value] {
                    repeated[value, default: [earlier]].append(index)
                } else {
                    first[value] = index
                }
            }
            for (value, indices) in repeated {
                let group = indices.map { entries[$0] }
                guard Set(group.map(\.node)).count > 1 else { continue }
                let names = group.map(\.node).sorted()
                for entry in group where errors[entry.node] == nil {
                    let others = names.filter { $0 != entry.node }.map { "'\($0)'" }.joined(separator: ", ")
                    errors[entry.node] = BootError(code, node: entry.node, path: value,
                                                   "\(what) \(value) is also claimed by \(others)")
                }
            }
        }
        check({ PXEName.colonForm($0.mac) ?? $0.mac }, .macCollision, "MAC address")
        check(\.ip, .ipCollision, "IP address")
        return errors
    }
}
