import Foundation
import MemberwiseInit

/// The install environment's side of `rackswarm.report=http://SERVER:PORT/report/NODE`:
/// - `GET` answers `InstallInstructions` (JSON): what to install and which post actions to run;
/// - `POST` takes one `InstallReport` (JSON) per phase change, and a `downloading` report every few seconds.
///
/// The server answers a POST only after it has recorded the report. On `rebooting` it first switches the node's
/// boot entry to the site's `afterInstall` mode, so the reboot that follows cannot start the install again.
@PublicMemberwiseInit
public struct InstallReport: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
        /// The install environment is up and has read its kernel arguments.
        case booted
        /// Fetching the image; `percent` and the byte counters say how far.
        case downloading
        /// Every piece verified, the whole file's SHA-256 matched, and the disk is synced.
        case written
        /// Every post-install action exited 0.
        case postInstalled
        /// About to reboot into the installed system.
        case rebooting
        /// The install failed; `error` says why. The node stays in the install environment.
        case failed
    }

    public var phase: Phase
    /// `name@version` of the image being installed.
    public var image: String
    /// Downloaded share of the image, 0…100.
    public var percent: Double = 0
    /// Bytes of the image downloaded and verified so far.
    public var downloaded: Int64 = 0
    /// Bytes this node has uploaded to other peers.
    public var uploaded: Int64 = 0
    /// Bytes received from the reconciler's seed (as opposed to other nodes).
    public var fromSeed: Int64 = 0
    /// The percent downloaded at which this node first uploaded a piece; nil until it has.
    public var uploadStartedAtPercent: Double?
    /// Set for `failed`: what went wrong, one line.
    public var error: String?
    /// What the install environment found on the node; sent with `booted`.
    public var hardware: HardwareInventory?
    /// Set for `failed` when the same install would fail the same way (a disk smaller than the image, a SHA-256
    /// mismatch, a failing post action): the node stalls for a human instead of being booted again.
    public var stalled: Bool?
}

/// What `GET rackswarm.report` answers: the node's install, as the reconciler's desired state has it.
@PublicMemberwiseInit
public struct InstallInstructions: Sendable, Hashable, Codable {
    @PublicMemberwiseInit
    public struct PostAction: Sendable, Hashable, Codable {
        public var name: String
        /// Run with `/bin/sh -c`, working directory the node's root, environment `RACKSWARM_NODE`,
        /// `RACKSWARM_ROOT`, `RACKSWARM_DISK` and `RACKSWARM_IMAGE`. It addresses the installed system through
        /// `$RACKSWARM_ROOT`.
        public var run: String
    }

    /// What the installed system's `provision-agent serve` needs: the port it listens on and the site key that
    /// signs the reconciler's requests. The install environment writes them into the installed root.
    @PublicMemberwiseInit
    public struct Agent: Sendable, Hashable, Codable {
        public var port: Int
        /// The site key file's text (at least 16 bytes).
        public var key: String
    }

    public var node: String
    public var rack: String
    /// `name@version`.
    public var image: String
    public var sha256: String
    public var postInstall: [PostAction]
    /// The written image's root file system, mounted for the post actions: `LABEL=…`, `UUID=…` or a partition
    /// number. Nil: the post actions run in the install environment's own `--root` directory.
    public var rootPartition: String?
    /// Nil when the reconciler has no readable site key.
    public var agent: Agent?
}

/// What the reconciler decided about one request of a node's install environment (its instructions or a report),
/// by the node's one-time install token: the install desk decides, the boot server answers with the HTTP status.
public enum InstallAccess: Sendable, Hashable {
    /// The request carried the node's live install token, from the address it is bound to.
    case granted
    /// The request repeats, with the now spent token and from the same address, the `rebooting` report that spent it
    /// (its answer was lost): answer success and change nothing (HTTP 204).
    case alreadyRecorded
    /// The request carried no token (HTTP 401).
    case missingToken
    /// The token is not the node's live install token, or it came from another address (HTTP 403), with why.
    case refused(String)
}
