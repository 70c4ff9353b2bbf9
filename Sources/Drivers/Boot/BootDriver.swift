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
        collisions(count: entries.count, node: { entries[$0].node },
                   mac: { PXEName.colonForm(entries[$0].mac) ?? entries[$0].mac }, macText: { $0 },
                   ip: { entries[$0].ip }, ipText: { $0 })
    }

    /// The same over `count` items read by position, with keys of any kind (a MAC as its number, say: no string
    /// per item) and a `text` that names a key seen twice. Two keys are the same address exactly when their texts
    /// are.
    public static func collisions<MAC: Hashable, IP: Hashable>(
        count: Int, node: (Int) -> String, mac: (Int) -> MAC, macText: (MAC) -> String,
        ip: (Int) -> IP, ipText: (IP) -> String
    ) -> [String: BootError] {
        var errors: [String: BootError] = [:]
        func check<Key: Hashable>(_ key: (Int) -> Key, _ text: (Key) -> String, _ code: BootError.Code,
                                  _ what: String) {
            // One pass finds the values seen twice; only their items are grouped (no copy of every item).
            var first: [Key: Int] = [:]
            first.reserveCapacity(count)
            var repeated: [Key: [Int]] = [:]
            for index in 0..<count {
                let value = key(index)
                if let earlier = first[value] {
                    repeated[value, default: [earlier]].append(index)
                } else {
                    first[value] = index
                }
            }
            for (value, indices) in repeated {
                let group = indices.map(node)
                guard Set(group).count > 1 else { continue }
                let names = group.sorted()
                let value = text(value)
                for name in group where errors[name] == nil {
                    let others = names.filter { $0 != name }.map { "'\($0)'" }.joined(separator: ", ")
                    errors[name] = BootError(code, node: name, path: value,
                                             "\(what) \(value) is also claimed by \(others)")
                }
            }
        }
        check(mac, macText, .macCollision, "MAC address")
        check(ip, ipText, .ipCollision, "IP address")
        return errors
    }
}
