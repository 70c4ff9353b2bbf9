import Drivers
import Foundation
import Logging
import ReconcilerMetrics

/// The reconciler's end of `rackswarm.report`: tells a node's install environment what to install and records
/// what it reports. It follows the site the loop last loaded.
///
/// On `rebooting` it records the report, then switches the node's boot entry to the site's `afterInstall` mode,
/// both before the HTTP answer goes out, so the reboot that follows boots the installed system and can never start
/// the install again.
public actor InstallDesk {
    public struct UnknownNode: Error, Sendable, CustomStringConvertible {
        public var node: String
        public var description: String { "no node named '\(node)' with an image in the site" }
    }

    private var desired: DesiredState
    private let store: any StateStore
    private let boot: any BootDriver
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// This reconciler's name (its shard id), stored with each report it records; nil stores none.
    private let receiver: String?
    /// The last report of each node this process received, to count bytes once.
    private var previous: [String: InstallReport] = [:]

    public init(desired: DesiredState, store: any StateStore, boot: any BootDriver, logger: Logger,
                receiver: String? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.desired = desired
        self.receiver = receiver
        self.store = store
        self.boot = boot
        self.logger = logger
        self.now = now
    }

    /// A live token and the address that first used it: later requests with it must come from there.
    private var bound: [String: (token: String, client: String)] = [:]
    /// The token each node's `rebooting` report spent, the address it came from and the report, so that an exact
    /// repeat of that report (the installer retrying after a lost answer) succeeds and changes nothing.
    private var spent: [String: (token: String, client: String, report: InstallReport)] = [:]
    /// Node names by MAC (`aa:bb:cc:dd:ee:ff`), for the boot-script check; rebuilt on `update`.
    private var nodesByMAC: [String: String]?

    /// Checks the token a request for `name`'s instructions or reports carried against the one-time token of the
    /// node's install entry (the boot driver's), and where it came from:
    /// - with `dhcp: managed` the reservation rackswarm wrote is in force, so a request from inside the PXE subnet
    ///   must come from the address reserved for the node;
    /// - the first address that uses a live token binds it: the same token from any other address is refused;
    /// - after `rebooting` the token is spent; only an exact repeat of that report, from the same address, gets
    ///   `alreadyRecorded`.
    ///
    /// `report` is the body of a `POST` (nil for the instructions' `GET`, or a body that is no report). Every
    /// refusal is logged at warning with the client's address (never the token) and counted in
    /// `rackswarm_install_reports_refused_total{reason}`.
    public func authorize(node name: String, token: String?, client: String, report: InstallReport? = nil) async
        -> InstallAccess
    {
        let client = Self.plainAddress(client)
        let (access, reason) = await decide(node: name, token: token, client: client, report: report)
        guard let reason else { return access }
        ReconcilerMetrics.installRequestRefused(reason: reason)
        logger.warning("install request refused", metadata: [
            "node": "\(name)", "client": "\(client)", "reason": "\(reason)",
        ])
        return access
    }

    private func decide(node name: String, token: String?, client: String, report: InstallReport?) async
        -> (InstallAccess, reason: String?)
    {
        guard let token else { return (.missingToken, "missing") }
        if let node = desired.node(named: name), !isReserved(client, for: node) {
            return (.refused("'\(name)' reports only from \(node.ip.value), the address DHCP reserves for it"),
                    "wrong_address")
        }
        let expected: String?
        do {
            expected = try await boot.installToken(node: name)
        } catch {
            return (.refused("the install token of '\(name)' cannot be read"), "unreadable")
        }
        if let expected, InstallTokenMinter.matches(token, expected) {
            if let first = bound[name], first.token == expected, first.client != client {
                return (.refused("the install token of '\(name)' is bound to the address that first used it"),
                        "wrong_address")
            }
            bound[name] = (expected, client)
            return (.granted, nil)
        }
        if let done = spent[name], InstallTokenMinter.matches(token, done.token) {
            if done.client == client, let report, report == done.report { return (.alreadyRecorded, nil) }
            return (.refused("the install token of '\(name)' was spent by its rebooting report"), "spent")
        }
        if expected == nil { return (.refused("no install of '\(name)' is under way"), "no_install") }
        return (.refused("not the install token of '\(name)'"), "wrong_token")
    }

    /// False only when the site's DHCP is rackswarm's (`managed`), `client` is inside the PXE subnet, and it is not
    /// the node's reserved address. Requests from outside the subnet (a routed or loopback path) rely on the
    /// first-use binding alone.
    private func isReserved(_ client: String, for node: Node) -> Bool {
        let network = desired.site.network
        guard network.dhcp == .managed, let address = IPv4Address(client), network.pxeSubnet.contains(address)
        else { return true }
        return address == node.ip.value
    }

    /// May `client` read the boot script of the MAC `mac` names (any spelling `PXEName` reads)? With
    /// `dhcp: managed`, a client inside the PXE subnet gets a node's script (and the token in it) only from the
    /// address reserved for that MAC; refusals are logged and counted (`boot_script_address`). An unknown MAC, or
    /// any other site, is left to the file routes.
    public func mayReadBootScript(mac: String, client: String) -> Bool {
        let client = Self.plainAddress(client)
        if nodesByMAC == nil {
            nodesByMAC = Dictionary(desired.nodes.map { ($0.mac.value.description, $0.name) },
                                    uniquingKeysWith: { first, _ in first })
        }
        guard let colon = PXEName.colonForm(mac), let name = nodesByMAC?[colon], let node = desired.node(named: name),
            !isReserved(client, for: node)
        else { return true }
        ReconcilerMetrics.installRequestRefused(reason: "boot_script_address")
        logger.warning("boot script refused", metadata: [
            "node": "\(name)", "client": "\(client)", "reason": "boot_script_address",
        ])
        return false
    }

    /// `1.2.3.4` from `::ffff:1.2.3.4`; anything else unchanged.
    static func plainAddress(_ client: String) -> String {
        client.hasPrefix("::ffff:") ? String(client.dropFirst(7)) : client
    }

    /// Follows a newly loaded site.
    public func update(_ desired: DesiredState) {
        self.desired = desired
        nodesByMAC = nil
    }

    public func instructions(for name: String) -> InstallInstructions? {
        guard let node = desired.node(named: name), let image = desired.image(named: node.image.value) else {
            return nil
        }
        return InstallInstructions(node: node, image: image, agent: desired.site.agent)
    }

    public func receive(_ report: InstallReport, from name: String) async throws {
        guard let node = desired.node(named: name) else { throw UnknownNode(node: name) }
        // Recorded first: a reconciler that cannot reach its store answers 500 with the install token still live,
        // so the installer takes the report to another reconciler (`rackswarm.fallback=`), which can.
        try await store.recordInstall(report, for: node.name, at: now(), receivedBy: receiver)
        if report.phase == .rebooting {
            // The token that brought this report is spent now; remember it for an exact repeat of the report.
            if let live = bound.removeValue(forKey: name) {
                spent[name] = (live.token, live.client, report)
            }
            switch desired.site.boot.afterInstall {
            case .localBoot: _ = try await boot.write(BootEntry(localBoot: node))
            case .remove: try await boot.remove(node: node.name)
            }
        }
        count(report, from: node.name)
        if report.phase != .downloading {
            logger.info("install report", metadata: [
                "node": "\(name)", "phase": "\(report.phase.rawValue)", "image": "\(report.image)",
                "error": "\(report.error ?? "")",
            ])
        }
    }

    /// Bytes the node received since its last report, split into the seed's and other nodes'. A new install
    /// (a smaller counter, or another image) starts from zero.
    private func count(_ report: InstallReport, from node: String) {
        var last = previous[node] ?? InstallReport(phase: .booted, image: report.image)
        if last.image != report.image || report.downloaded < last.downloaded || report.fromSeed < last.fromSeed {
            last = InstallReport(phase: .booted, image: report.image)
        }
        let seed = report.fromSeed - last.fromSeed
        let peers = (report.downloaded - report.fromSeed) - (last.downloaded - last.fromSeed)
        ReconcilerMetrics.seedBytes(max(0, seed))
        ReconcilerMetrics.peerBytes(max(0, peers))
        previous[node] = report
    }
}
