import Drivers
import Foundation
import Logging
import ReconcilerMetrics

/// The reconciler's end of `rackswarm.report`: tells a node's install environment what to install and records
/// what it reports. It follows the site the loop last loaded.
///
/// On `rebooting` it switches the node's boot entry to the site's `afterInstall` mode before it records the
/// report (and before the HTTP answer goes out), so the reboot that follows boots the installed system and can
/// never start the install again.
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
    /// The last report of each node this process received, to count bytes once.
    private var previous: [String: InstallReport] = [:]

    public init(desired: DesiredState, store: any StateStore, boot: any BootDriver, logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.desired = desired
        self.store = store
        self.boot = boot
        self.logger = logger
        self.now = now
    }

    /// What `authorize` decided about one request of a node's install environment.
    public enum Access: Sendable, Hashable {
        case granted
        /// The request carried no token (HTTP 401).
        case missingToken
        /// The token is not the node's live install token (HTTP 403), with why.
        case refused(String)
    }

    /// Checks the token a request for `name`'s instructions or reports carried against the one-time token of the
    /// node's install entry (the boot driver's). Every refusal is logged at warning with the client's address
    /// (never the token) and counted in `rackswarm_install_reports_refused_total{reason}`.
    public func authorize(node name: String, token: String?, client: String) async -> Access {
        let access: Access
        let reason: String
        if token == nil {
            (access, reason) = (.missingToken, "missing")
        } else {
            do {
                switch (try await boot.installToken(node: name), token) {
                case (let expected?, let presented?) where InstallTokenMinter.matches(presented, expected):
                    return .granted
                case (nil, _):
                    (access, reason) = (.refused("no install of '\(name)' is under way"), "no_install")
                default:
                    (access, reason) = (.refused("not the install token of '\(name)'"), "wrong_token")
                }
            } catch {
                (access, reason) = (.refused("the install token of '\(name)' cannot be read"), "unreadable")
            }
        }
        ReconcilerMetrics.installRequestRefused(reason: reason)
        logger.warning("install request refused", metadata: [
            "node": "\(name)", "client": "\(client)", "reason": "\(reason)",
        ])
        return access
    }

    /// Follows a newly loaded site.
    public func update(_ desired: DesiredState) { self.desired = desired }

    public func instructions(for name: String) -> InstallInstructions? {
        guard let node = desired.node(named: name), let image = desired.image(named: node.image.value) else {
            return nil
        }
        return InstallInstructions(node: node, image: image, agent: desired.site.agent)
    }

    public func receive(_ report: InstallReport, from name: String) async throws {
        guard let node = desired.node(named: name) else { throw UnknownNode(node: name) }
        if report.phase == .rebooting {
            switch desired.site.boot.afterInstall {
            case .localBoot: _ = try await boot.write(BootEntry(localBoot: node))
            case .remove: try await boot.remove(node: node.name)
            }
        }
        try await store.recordInstall(report, for: node.name, at: now())
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
