import Dispatch
import Drivers
import Foundation
import MemberwiseInit

extension BootServerAddress {
    /// The reconciler's HTTP server as nodes see it: `serverAddress:httpPort` of the provisioning network.
    public init(_ network: ProvisioningNetwork) {
        self.init(host: network.serverAddress.description, httpPort: network.httpPort)
    }
}

extension BootEntry.Loader {
    public init(_ loader: Node.BootLoader) {
        switch loader {
        case .pxelinux: self = .pxelinux
        case .grub: self = .grub
        case .ipxe: self = .ipxe
        }
    }
}

extension BootEntry {
    /// The entry that boots `node` into `image`'s install kernel, with the `rackswarm.*` arguments after the
    /// image's own.
    public init(installing node: Node, image: Image, site: Site) {
        let server = BootServerAddress(site.network)
        self.init(installing: node, image: image,
                  arguments: InstallArguments(node: node.name, imageReference: image.reference,
                                              sha256: image.sha256.value.lowercased(), server: server))
    }

    /// The install entry with `node`'s own `arguments` (`InstallArguments.forNode` of the image's template).
    init(installing node: Node, image: Image, arguments: InstallArguments) {
        self.init(
            node: node.name, mac: node.mac.value.description, ip: node.ip.value.description,
            loader: Loader(node.bootLoader),
            mode: .install(InstallKernel(imageReference: image.reference, kernel: image.kernel.value,
                                         initrd: image.initrd.value, arguments: image.kernelArgs + arguments.rendered)))
    }

    /// The entry that boots a leaving `node` into the install environment to wipe its disk: `kernel` and `initrd`
    /// with `arguments`, then `rackswarm.node=` and `rackswarm.erase=MODE` (the init erases instead of installing,
    /// then powers the machine off).
    public init(erasing node: Node, mode: DecommissionSettings.Erase, kernel: String, initrd: String,
                arguments: [String]) {
        self.init(
            node: node.name, mac: node.mac.value.description, ip: node.ip.value.description,
            loader: Loader(node.bootLoader),
            mode: .install(InstallKernel(imageReference: "erase-\(mode.rawValue)", kernel: kernel, initrd: initrd,
                                         arguments: arguments + ["rackswarm.node=\(node.name)",
                                                                 "rackswarm.erase=\(mode.rawValue)"])))
    }

    /// The entry that sends an installed `node` to its local disk.
    public init(localBoot node: Node) {
        self.init(node: node.name, mac: node.mac.value.description, ip: node.ip.value.description,
                  loader: Loader(node.bootLoader), mode: .localBoot)
    }
}

extension DHCPReservation {
    public init(_ node: Node) {
        self.init(node: node.name, mac: node.mac.value.description, ip: node.ip.value.description,
                  loader: BootEntry.Loader(node.bootLoader))
    }
}

extension DnsmasqSettings {
    /// dnsmasq's settings for the site's provisioning network; `hostsFile` is where reservations go.
    public init(site: Site, hostsFile: String) {
        let subnet = site.network.pxeSubnet
        self.init(serverAddress: site.network.serverAddress.description, network: subnet.address.description,
                  netmask: subnet.netmask.description, tftpRoot: site.boot.tftpRoot, hostsFile: hostsFile)
    }
}

/// Where the entries one reconciler writes send their nodes, when several share the site: its own boot server
/// (the kernel, initrd, `.torrent`, tracker and report URLs), and the other live reconcilers' (`rackswarm.fallback=`),
/// which the install environment reports to when that one stops answering.
@PublicMemberwiseInit
public struct BootAddressing: Sendable, Hashable {
    public var server: BootServerAddress
    /// The others' HTTP bases, `http://HOST:PORT`.
    public var fallbacks: [String] = []
}

/// The boot entries of the nodes a pass is about, and the nodes refused with the reason.
public struct BootEntries: Sendable {
    /// By node name: the install entry each present node would get.
    public var entries: [String: BootEntry]
    /// By node name: why the node gets no entry (a MAC or IP collision, an argument that cannot be written).
    public var refused: [String: BootError]

    /// Install entries for every present node with a known image; colliding nodes are refused, the rest go on.
    /// They name `addressing`'s server and fallbacks; without it, the site's `serverAddress` and no fallback.
    public init(desired: DesiredState, addressing: BootAddressing? = nil) {
        let builder = BootEntryBuilder(desired: desired, addressing: addressing)
        let nodes = desired.nodes
        // Positions, not a filtered copy of the nodes (4.3 MB at 10,000 nodes).
        let present = nodes.indices.filter { builder.builds(nodes[$0]) }
        // Each node's entry is built and checked on every core (a site of 100,000 nodes has as many); the
        // collisions between them are found after.
        let prepared = Self.concurrentMap(present) { builder.entry(for: nodes[$0]) }
        refused = Self.collisions(nodes, present)
        entries = [:]
        entries.reserveCapacity(prepared.count)
        for (entry, error) in prepared where refused[entry.node] == nil {
            if let error {
                refused[entry.node] = error
            } else {
                entries[entry.node] = entry
            }
        }
    }

    /// The nodes at `positions` that share a MAC or an IP with another of them, each with its error; read from
    /// the nodes' addresses, no entry needed.
    static func collisions(_ nodes: [Node], _ positions: [Int]) -> [String: BootError] {
        BootEntry.collisions(count: positions.count, node: { nodes[positions[$0]].name },
                             mac: { nodes[positions[$0]].mac.value }, macText: \.description,
                             ip: { nodes[positions[$0]].ip.value }, ipText: \.description)
    }

    /// `transform` of every item, in order, computed in chunks of `chunk` items on all cores.
    static func concurrentMap<Item: Sendable, Result: Sendable>(
        _ items: [Item], chunk: Int = 2048, _ transform: @escaping @Sendable (Item) -> Result
    ) -> [Result] {
        let chunks = (items.count + chunk - 1) / chunk
        return [Result](unsafeUninitializedCapacity: items.count) { buffer, initialized in
            // Each position is written by one iteration only.
            guard let start = buffer.baseAddress else { return }
            nonisolated(unsafe) let base = start
            DispatchQueue.concurrentPerform(iterations: chunks) { index in
                for position in (index * chunk)..<min(items.count, (index + 1) * chunk) {
                    (base + position).initialize(to: transform(items[position]))
                }
            }
            initialized = items.count
        }
    }
}

/// What each node's install entry is built from: the site's (or `addressing`'s) server and, once per image, the
/// arguments every node of the image shares.
struct BootEntryBuilder: Sendable {
    let server: BootServerAddress
    let templates: [String: (image: Image, arguments: InstallArguments)]

    init(desired: DesiredState, addressing: BootAddressing?) {
        let server = addressing?.server ?? BootServerAddress(desired.site.network)
        var templates: [String: (image: Image, arguments: InstallArguments)] = [:]
        for image in desired.images where templates[image.name] == nil {
            var arguments = InstallArguments(node: "", imageReference: image.reference,
                                             sha256: image.sha256.value.lowercased(), server: server)
            arguments.fallbacks = addressing?.fallbacks ?? []
            templates[image.name] = (image, arguments)
        }
        self.server = server
        self.templates = templates
    }

    /// True for a node that gets an install entry: present, with an image in the repo.
    func builds(_ node: Node) -> Bool {
        node.state == .present && templates[node.image.value] != nil
    }

    /// `node`'s install entry, and why it cannot be written (nil: it can). `node` is one that `builds`.
    func entry(for node: Node) -> (entry: BootEntry, error: BootError?) {
        guard let template = templates[node.image.value] else { preconditionFailure("a node builds() refused") }
        let entry = BootEntry(installing: node, image: template.image,
                              arguments: template.arguments.forNode(node.name, server: server))
        do throws(BootError) {
            try BootEntryRenderer.check(entry)
            return (entry, nil)
        } catch {
            return (entry, error)
        }
    }
}

/// Carries out the planner's boot actions (`writeBootEntry`, `bootLocal`, `removeBootEntry`) through a driver.
public struct BootActionExecutor: Sendable {
    public var driver: any BootDriver
    public var desired: DesiredState
    private let prepared: BootEntries

    /// `addressing`: where this reconciler's entries send nodes (several reconcilers); nil: the site's address.
    public init(driver: any BootDriver, desired: DesiredState, addressing: BootAddressing? = nil) {
        self.driver = driver
        self.desired = desired
        self.prepared = BootEntries(desired: desired, addressing: addressing)
    }

    /// Rewrites the entries of `racks`' nodes, which this reconciler took over from another, to name it: an install
    /// entry for the node's image now (the same image keeps its install token, so an install under way stays
    /// authorised) and a local-boot entry as it is. Entries of another kind (an erase, an older image) are left
    /// for the plan. Answers the nodes rewritten; one node's error does not stop the others and is thrown after.
    public func rewrite(racks: Set<String>) async throws -> [String] {
        let written = try await driver.writtenEntries()
        var rewritten: [String] = []
        var firstError: (any Error)?
        for node in desired.nodes where racks.contains(node.rack.value) {
            let entry: BootEntry
            switch written[node.name] {
            case .install(let image)?:
                guard let install = prepared.entries[node.name], case .install(let kernel) = install.mode,
                    kernel.imageReference == image
                else { continue }
                entry = install
            case .localBoot?:
                entry = BootEntry(localBoot: node)
            case nil:
                continue
            }
            do {
                // Checked again under the driver's lock: a report may have flipped the entry since.
                if try await driver.rewrite(entry) { rewritten.append(node.name) }
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        return rewritten
    }

    /// Performs `action` if it is a boot action; returns false for other kinds. A refused node throws its error.
    public func perform(_ action: PlannedAction) async throws -> Bool {
        switch action.kind {
        case .writeBootEntry:
            if let error = prepared.refused[action.node] { throw error }
            guard let entry = prepared.entries[action.node] else {
                throw BootError(.missingFile, node: action.node, path: "", "the node or its image is not in the repo")
            }
            try await driver.write(entry)
        case .bootLocal:
            if let error = prepared.refused[action.node] { throw error }
            guard let node = desired.node(named: action.node) else { return true }
            switch desired.site.boot.afterInstall {
            case .localBoot: try await driver.write(BootEntry(localBoot: node))
            case .remove: try await driver.remove(node: action.node)
            }
        case .removeBootEntry:
            try await driver.remove(node: action.node)
        default:
            return false
        }
        return true
    }
}

extension BootActionExecutor {
    /// Writes the entry that boots `node` into the install environment to erase its disk (the site's
    /// `decommission`); with no install environment to name (no `decommission.kernel`, no image), the node stalls.
    func writeEraseEntry(for node: Node) async throws {
        let mode = desired.site.decommission.erase
        guard mode != .none, let boot = desired.eraseKernel else {
            throw BootError(.missingFile, node: node.name, path: "",
                            "decommission.erase needs the install environment: name decommission.kernel and "
                            + "initrd, or keep an Image in the repo")
        }
        let entry = BootEntry(erasing: node, mode: mode, kernel: boot.kernel, initrd: boot.initrd,
                              arguments: boot.arguments)
        try BootEntryRenderer.check(entry)
        try await driver.write(entry)
    }
}

extension BootActionExecutor: ActionPerformer {
    /// The executor's entry point: boot actions go to the driver, and a `BootError` carries its intent (collisions,
    /// missing files, unwritable roots are stalled; a failed DHCP reload is transient). Any other kind of action
    /// is not this performer's and stalls, naming the kind.
    public func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt) async throws
        -> StepResult
    {
        let handled: Bool
        do {
            if action.kind == .writeEraseEntry {
                try await writeEraseEntry(for: node)
                return .done
            }
            handled = try await perform(action)
        } catch let error as BootError {
            throw ActionFailure(error.description, intent: error.intent)
        }
        guard handled else {
            throw ActionFailure("boot: \(action.kind.rawValue) is not a boot action", intent: .stalled)
        }
        return .done
    }
}

extension InstallInstructions {
    /// What `GET rackswarm.report` answers for `node` installing `image`; with `agent`, the installed system's
    /// agent settings: the port and the node's own agent key, derived from the site key (read from
    /// `agent.keyFile` each time) and the node's name. The site key never leaves the reconciler; an unreadable
    /// one leaves the settings out.
    public init(node: Node, image: Image, agent: AgentSettings? = nil) {
        var settings: Agent?
        if let agent, let key = try? SiteKey(contentsOfFile: agent.keyFile) {
            settings = Agent(port: agent.port, key: key.agentKeyText(forNode: node.name))
        }
        self.init(
            node: node.name, rack: node.rack.value, image: image.reference, sha256: image.sha256.value.lowercased(),
            postInstall: image.postInstall.map { PostAction(name: $0.name, run: $0.run) },
            rootPartition: image.rootPartition, agent: settings)
    }
}
