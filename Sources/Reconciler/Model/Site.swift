import Foundation
import MemberwiseInit

/// The whole desired state of a data center: one `Site` document plus racks, nodes, images and services.
public struct DesiredState: Sendable {
    public var site: Site
    public var racks: [Rack]
    public var nodes: [Node] {
        didSet { nodeIndex = NameIndex() }
    }
    public var images: [Image]
    public var services: [Service]

    public init(site: Site, racks: [Rack], nodes: [Node], images: [Image], services: [Service]) {
        self.site = site
        self.racks = racks
        self.nodes = nodes
        self.images = images
        self.services = services
    }

    /// Positions of `nodes` by name, built on the first `node(named:)` and dropped whenever `nodes` changes.
    private var nodeIndex = NameIndex()

    public func rack(named name: String) -> Rack? { racks.first { $0.name == name } }
    public func image(named name: String) -> Image? { images.first { $0.name == name } }
    public func service(named name: String) -> Service? { services.first { $0.name == name } }
    /// The node called `name` (the first, should a name repeat), by a hash lookup: `apply` asks once per action,
    /// so a linear search made a pass over 100,000 nodes quadratic.
    public func node(named name: String) -> Node? {
        nodeIndex.position(of: name, in: nodes, name: \.name).map { nodes[$0] }
    }
}

/// A lazily built name → position table shared by copies of one `DesiredState`; a copy whose list changes gets a
/// fresh one. Built at most once however many threads ask.
private final class NameIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var positions: [String: Int]?

    func position<Element>(of name: String, in elements: [Element], name key: (Element) -> String) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        if positions == nil {
            var table: [String: Int] = [:]
            table.reserveCapacity(elements.count)
            for (position, element) in elements.enumerated() where table[key(element)] == nil {
                table[key(element)] = position
            }
            positions = table
        }
        return positions?[name]
    }
}

/// Site-wide settings: the provisioning network, boot file locations, rollout defaults, the loop interval.
@PublicMemberwiseInit
public struct Site: Sendable, Hashable {
    public var name: String
    public var location: SourceLocation
    public var network: ProvisioningNetwork
    public var boot: BootSettings
    public var rollout: RolloutPolicy
    public var timeouts: StepTimeouts
    public var agent: AgentSettings = .defaults
    /// Decommission nodes that left the repo or are `state: absent`; otherwise only report them as orphaned.
    public var prune: Bool
    /// How often `reconcile` converges when it runs on a timer.
    public var interval: Duration
    /// The keys whose signed commits may drive actions; nil lets any commit do so.
    public var verify: CommitVerification?
    /// When actions may run; a rack's own windows replace these for its nodes.
    public var windows: MaintenanceWindows = .none
    /// The IPMI cipher suites sessions may use, strongest first; `[17]` forbids the weak suite 3.
    public var ipmiCipherSuites: [Int] = [17, 3]
    /// The state database's housekeeping.
    public var store: StoreSettings = .defaults
    /// Whether a pruned node's disks are wiped before it is powered off.
    public var decommission: DecommissionSettings = .keepDisks
    /// How images spread between racks.
    public var distribution: DistributionSettings = .defaults
}

/// How the reconciler's tracker and seed spread images (`spec.distribution`).
public struct DistributionSettings: Sendable, Hashable {
    /// Keep each image's traffic inside racks: the tracker answers a node with its rack mates and the seeds on the
    /// core only, and the seed sends every piece to every rack itself (no super-seeding). Each piece then crosses a
    /// rack's uplink about once; the seed sends one copy per rack. Right when rack uplinks are oversubscribed and
    /// the seed's upload is about the racks' count times a node's; otherwise (the default) racks trade pieces
    /// over their uplinks and the seed sends each piece about once.
    public var keepInRack: Bool

    /// Racks trade pieces; the seed super-seeds.
    public static let defaults = DistributionSettings(keepInRack: false)
}

/// What a decommission does to the node's disks (`spec.decommission`): with `erase` quick or full, a pruned node
/// is network-booted into the install environment with `rackswarm.erase=MODE`, which wipes its disk and powers it
/// off; only then is its boot entry removed.
@PublicMemberwiseInit
public struct DecommissionSettings: Sendable, Hashable {
    public enum Erase: String, Sendable, Hashable, Codable, CaseIterable {
        /// Power off only; the disks keep their data.
        case none
        /// Signatures zeroed (partition tables, file-system superblocks), then the whole disk discarded.
        case quick
        /// Every byte overwritten with zeros.
        case full
    }

    public var erase: Erase
    /// The install environment that erases, relative to the boot roots; nil: the kernel, initrd and kernel
    /// arguments of the site's first image by name.
    public var kernel: String?
    public var initrd: String?
    public var kernelArgs: [String] = []

    /// No erase: the default.
    public static let keepDisks = DecommissionSettings(erase: .none)
}

extension DesiredState {
    /// The kernel, initrd and arguments that boot a leaving node into the install environment to erase it: the
    /// site's `decommission.kernel`/`initrd`, else the first image's by name; nil when neither exists.
    public var eraseKernel: (kernel: String, initrd: String, arguments: [String])? {
        let settings = site.decommission
        if let kernel = settings.kernel, let initrd = settings.initrd {
            return (kernel, initrd, settings.kernelArgs)
        }
        guard let image = images.min(by: { $0.name < $1.name }) else { return nil }
        return (image.kernel.value, image.initrd.value, image.kernelArgs)
    }
}

/// The state database's housekeeping (`spec.store`).
public struct StoreSettings: Sendable, Hashable {
    /// Ended journal entries older than this are pruned after each looped pass (each node keeps its newest ones
    /// whatever their age); nil keeps the whole journal.
    public var retention: Duration?

    /// No pruning.
    public static let defaults = StoreSettings(retention: nil)
}

/// The network nodes PXE-boot on, and where the reconciler's boot, tracker and HTTP server listens.
@PublicMemberwiseInit
public struct ProvisioningNetwork: Sendable, Hashable {
    public enum DHCPMode: String, Sendable, Hashable, Codable, CaseIterable {
        /// rackswarm writes dnsmasq host reservations and reloads it.
        case managed
        /// The site runs its own DHCP; rackswarm prints the reservations an operator must add.
        case external
    }

    public var pxeSubnet: IPv4Network
    public var serverAddress: IPv4Address
    public var httpPort: Int
    public var dhcp: DHCPMode
}

/// Where boot files go and what happens to a node's PXE entry after it is installed.
@PublicMemberwiseInit
public struct BootSettings: Sendable, Hashable {
    public enum AfterInstall: String, Sendable, Hashable, Codable, CaseIterable {
        /// Rewrite the entry to boot from the local disk.
        case localBoot
        /// Delete the entry; the firmware falls through to the disk.
        case remove
    }

    public var tftpRoot: String
    public var httpRoot: String
    public var afterInstall: AfterInstall
}

/// How fast a rollout may go (site defaults; a rack may override some of them).
public struct RolloutPolicy: Sendable, Hashable, Codable {
    /// Nodes of each rack installed first; they then seed the rest of their rack (the paper's Figure 3).
    public var firstWave: Int
    /// Nodes of one rack that may be down (powering, installing) at once.
    public var maxUnavailable: Int
    /// Nodes in flight across the whole site.
    public var concurrency: Int
    /// Failed nodes after which a rollout halts: no new destructive action starts.
    public var failureBudget: Int
    /// Put a single node alone in the very first wave.
    public var canary: Bool

    public static let defaults = RolloutPolicy(
        firstWave: 2, maxUnavailable: 4, concurrency: 32, failureBudget: 3, canary: false)
}

/// How long each step may take before the node is retried or marked failed.
public struct StepTimeouts: Sendable, Hashable {
    public var power: Duration
    public var install: Duration
    public var services: Duration
    /// The time one BMC request may take before it is sent again, and how many times it is.
    public var bmcRequest: Duration = .seconds(1)
    public var bmcRetries = 3

    public static let defaults = StepTimeouts(power: .seconds(120), install: .seconds(1800), services: .seconds(600))
}

/// How the reconciler reaches each node's `provision-agent`: the port on the node's IP and the site key file.
public struct AgentSettings: Sendable, Hashable {
    public var port: Int
    /// The site key, on the reconciler's host only: each node's agent key derives from it (HKDF).
    public var keyFile: String
    /// The site key `keyFile` replaced, during a rotation: a node whose agent refuses the current key's node key
    /// but takes this one's is handed its new key (`rekeyAgent`). Nil: no rotation under way.
    public var previousKeyFile: String?

    public static let defaults = AgentSettings(port: 7700, keyFile: "/etc/rackswarm/site.key")
}
