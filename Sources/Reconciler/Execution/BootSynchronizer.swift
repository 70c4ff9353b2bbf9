import Drivers
import Logging
import MemberwiseInit

/// What one boot sync did.
public struct BootSyncResult: Sendable {
    /// Nodes whose entry was written, with the mode: `install` or `localBoot`.
    public var written: [String: String] = [:]
    /// Nodes whose entry was removed because they are installed and the site says `afterInstall: remove`.
    public var removed: [String] = []
    /// Nodes that got no entry, with the reason naming the file.
    public var failed: [String: BootError] = [:]
    /// Nodes that left the repo (or are absent) whose files were pruned.
    public var pruned: [String] = []
    /// Reservations handed to DHCP, or nil when DHCP is not managed here.
    public var reservations: Int?
    /// Set when the DHCP reservations could not be applied.
    public var dhcpError: BootError?

    public init() {}
}

/// Makes the boot roots (and DHCP) match the repo: an install entry for every present node not yet running its
/// image, the after-install entry for those that are, nothing for the rest. One node's error never stops another.
@PublicMemberwiseInit
public struct BootSynchronizer: Sendable {
    public var driver: any BootDriver
    /// dnsmasq (managed DHCP), or nil for an external DHCP server.
    public var reservations: (any DHCPReservationDriver)?
    public var logger: Logger

    public func sync(desired: DesiredState, observed: ObservedState) async -> BootSyncResult {
        var result = BootSyncResult()
        let prepared = BootEntries(desired: desired)
        result.failed = prepared.refused
        let present = desired.nodes.filter { $0.state == .present }
        for node in present where prepared.refused[node.name] == nil {
            guard let image = desired.image(named: node.image.value), let entry = prepared.entries[node.name] else {
                continue
            }
            let status = observed.nodes[node.name]
            let installed = status?.phase == .ready && status?.image == image.reference
            do {
                if !installed {
                    try await driver.write(entry)
                    result.written[node.name] = "install"
                } else if desired.site.boot.afterInstall == .localBoot {
                    try await driver.write(BootEntry(localBoot: node))
                    result.written[node.name] = "localBoot"
                } else {
                    try await driver.remove(node: node.name)
                    result.removed.append(node.name)
                }
            } catch let error as BootError {
                result.failed[node.name] = error
            } catch {
                result.failed[node.name] = BootError(.unwritable, node: node.name, path: "", "\(error)")
            }
        }
        do {
            result.pruned = try await driver.prune(keeping: Set(present.map(\.name)))
        } catch let error as BootError {
            result.failed[error.node.isEmpty ? "(prune)" : error.node] = error
        } catch {
            result.failed["(prune)"] = BootError(.unwritable, node: "", path: "", "\(error)")
        }
        if let reservations {
            let granted = present.filter { prepared.refused[$0.name] == nil }.map(DHCPReservation.init)
            do {
                try await reservations.apply(granted)
                result.reservations = granted.count
            } catch let error as BootError {
                result.dhcpError = error
            } catch {
                result.dhcpError = BootError(.dhcpReload, node: "", path: "", "\(error)")
            }
        }
        for (node, error) in result.failed.sorted(by: { $0.key < $1.key }) {
            logger.error("boot entry refused", metadata: ["node": "\(node)", "error.detail": "\(error)"])
        }
        return result
    }
}
