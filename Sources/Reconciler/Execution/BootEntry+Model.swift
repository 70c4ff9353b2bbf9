import Drivers
import Foundation

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
        let arguments = InstallArguments(node: node.name, imageReference: image.reference,
                                         sha256: image.sha256.value.lowercased(), server: server)
        self.init(
            node: node.name, mac: node.mac.value.description, ip: node.ip.value.description,
            loader: Loader(node.bootLoader),
            mode: .install(InstallKernel(imageReference: image.reference, kernel: image.kernel.value,
                                         initrd: image.initrd.value, arguments: image.kernelArgs + arguments.rendered)))
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

/// The boot entries of the nodes a pass is about, and the nodes refused with the reason.
public struct BootEntries: Sendable {
    /// By node name: the install entry each present node would get.
    public var entries: [String: BootEntry]
    /// By node name: why the node gets no entry (a MAC or IP collision, an argument that cannot be written).
    public var refused: [String: BootError]

    /// Install entries for every present node with a known image; colliding nodes are refused, the rest go on.
    public init(desired: DesiredState) {
        var candidates: [BootEntry] = []
        for node in desired.nodes where node.state == .present {
            guard let image = desired.image(named: node.image.value) else { continue }
            candidates.append(BootEntry(installing: node, image: image, site: desired.site))
        }
        refused = BootEntry.collisions(candidates)
        let renderer = BootEntryRenderer(server: BootServerAddress(desired.site.network))
        entries = [:]
        for entry in candidates where refused[entry.node] == nil {
            do {
                _ = try renderer.files(for: entry)
                entries[entry.node] = entry
            } catch {
                refused[entry.node] = error
            }
        }
    }
}

/// Carries out the planner's boot actions (`writeBootEntry`, `bootLocal`, `removeBootEntry`) through a driver.
public struct BootActionExecutor: Sendable {
    public var driver: any BootDriver
    public var desired: DesiredState
    private let prepared: BootEntries

    public init(driver: any BootDriver, desired: DesiredState) {
        self.driver = driver
        self.desired = desired
        self.prepared = BootEntries(desired: desired)
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

extension BootActionExecutor: ActionPerformer {
    /// The executor's entry point: boot actions go to the driver; a `BootError` becomes an `ActionFailure` with its
    /// intent (collisions, missing files, unwritable roots are stalled; a failed DHCP reload is transient). Any
    /// other kind of action is not this performer's and stalls, naming the kind.
    public func perform(_ action: PlannedAction, on node: Node, image: Image?) async throws {
        let handled: Bool
        do {
            handled = try await perform(action)
        } catch let error as BootError {
            throw ActionFailure(error.description, intent: error.isTransient ? .transient : .stalled)
        }
        if !handled {
            throw ActionFailure("boot: \(action.kind.rawValue) is not a boot action", intent: .stalled)
        }
    }
}

/// `--dry-run`'s view of boot entries: the file each node gets and the command line its kernel starts with.
public enum BootEntryPreview {
    public static func text(plan: Plan, desired: DesiredState) -> String {
        let nodes = plan.actions.filter { $0.kind == .writeBootEntry }.map(\.node)
        guard !nodes.isEmpty else { return "" }
        let prepared = BootEntries(desired: desired)
        let renderer = BootEntryRenderer(server: BootServerAddress(desired.site.network))
        var out = "\nBoot entries:\n"
        for name in nodes {
            if let error = prepared.refused[name] {
                out += "  \(name): refused: \(error)\n"
                continue
            }
            guard let entry = prepared.entries[name], let files = try? renderer.files(for: entry) else { continue }
            let root = { (file: BootEntryRenderer.File) in
                file.root == .tftp ? desired.site.boot.tftpRoot : desired.site.boot.httpRoot
            }
            out += "  \(name) (\(entry.loader.rawValue), \(entry.mac) -> \(entry.ip)): "
                + files.map { "\(root($0))/\($0.path)" }.joined(separator: ", ") + "\n"
            if case .install(let install) = entry.mode {
                out += "      kernel \(install.kernel) initrd \(install.initrd)\n"
                out += "      args \(install.arguments.joined(separator: " "))\n"
            }
        }
        return out
    }
}

extension InstallInstructions {
    /// What `GET rackswarm.report` answers for `node` installing `image`; with `agent`, the installed system's
    /// agent settings (the site key is read from `agent.keyFile` each time; an unreadable key leaves them out).
    public init(node: Node, image: Image, agent: AgentSettings? = nil) {
        var settings: Agent?
        if let agent, let data = FileManager.default.contents(atPath: agent.keyFile),
            let key = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .newlines), key.utf8.count >= 16
        {
            settings = Agent(port: agent.port, key: key)
        }
        self.init(
            node: node.name, rack: node.rack.value, image: image.reference, sha256: image.sha256.value.lowercased(),
            postInstall: image.postInstall.map { PostAction(name: $0.name, run: $0.run) },
            rootPartition: image.rootPartition, agent: settings)
    }
}
