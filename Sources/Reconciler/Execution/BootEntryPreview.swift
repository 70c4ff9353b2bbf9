import Drivers

/// `--dry-run`'s view of boot entries: the files each node gets and the command line its kernel starts with.
///
/// Entries are prepared and checked once (as `BootEntries` does); nothing is rendered, since paths follow from the MAC.
/// By default nodes whose entries differ only in node name, MAC and IP share one group, printed once with
/// `{node}` and `{mac}` in place of those: a 100,000-node site prints a handful of lines, not 400,000. With
/// `everyEntry`, each node's entry is printed on its own.
public enum BootEntryPreview {
    /// Refused nodes listed by name in the grouped view; the rest are counted.
    static let refusalsShown = 20
    /// Nodes whose entries are built at a time in the grouped view (about 1 KB each), in parts of a quarter for
    /// the cores.
    static let chunkSize = 512

    /// The boot section of a text dry run, written to `out`; nothing when the plan writes no boot entry.
    public static func text<Output: TextOutputStream>(
        plan: Plan, desired: DesiredState, everyEntry: Bool = false, to out: inout Output
    ) {
        // By position: a lazy filter copied each of the plan's actions to look at its kind.
        let actions = plan.actions
        var nodes: [String] = []
        for index in actions.indices where actions[index].kind == .writeBootEntry { nodes.append(actions[index].node) }
        guard !nodes.isEmpty else { return }
        let boot = desired.site.boot
        let root = { (place: (root: BootEntryRenderer.File.Root, path: String)) in
            (place.root == .tftp ? boot.tftpRoot : boot.httpRoot) + "/" + place.path
        }
        if everyEntry {
            let prepared = BootEntries(desired: desired)
            out.write("\nBoot entries:\n")
            for name in nodes {
                if let error = prepared.refused[name] {
                    out.write("  \(name): refused: \(error)\n")
                    continue
                }
                guard let entry = prepared.entries[name] else { continue }
                let files = BootEntryRenderer.locations(loader: entry.loader, pxeName: entry.pxeName).map(root)
                out.write("  \(name) (\(entry.loader.rawValue), \(entry.mac) -> \(entry.ip)): "
                    + files.joined(separator: ", ") + "\n")
                if case .install(let install) = entry.mode { writeKernel(install, to: &out) }
            }
            return
        }
        var groups: [Group] = []
        var groupOf: [Group.Key: Int] = [:]
        var refused: [String] = []
        // The group of the node before: a node is most often in it, and comparing two keys costs less than
        // hashing one (a key holds the whole command line).
        var last: Int?
        // Entries are built a chunk of nodes at a time (on every core) and folded into their groups: only the
        // groups are kept, not every node's entry (all of them were 13 MB at 10,000 nodes). Collisions are found
        // first, from the addresses of every node that gets an entry.
        let builder = BootEntryBuilder(desired: desired, addressing: nil)
        let all = desired.nodes
        let collided = BootEntries.collisions(all, all.indices.filter { builder.builds(all[$0]) })
        for start in stride(from: 0, to: nodes.count, by: chunkSize) {
            let names = Array(nodes[start..<min(nodes.count, start + chunkSize)])
            let built = BootEntries.concurrentMap(names, chunk: chunkSize / 4) { name in
                desired.node(named: name).flatMap { builder.builds($0) ? builder.entry(for: $0) : nil }
            }
            for (name, item) in zip(names, built) {
                if let error = collided[name] ?? item?.error {
                    refused.append("\(name): refused: \(error)")
                    continue
                }
                guard let entry = item?.entry, case .install(let install) = entry.mode else { continue }
                let key = Group.Key(entry: entry, install: install)
                if let index = last, groups[index].key == key {
                    groups[index].add(name)
                } else if let index = groupOf[key] {
                    groups[index].add(name)
                    last = index
                } else {
                    groupOf[key] = groups.count
                    last = groups.count
                    groups.append(Group(key: key))
                    groups[groups.count - 1].add(name)
                }
            }
        }
        let entryCount = groups.reduce(0) { $0 + $1.count }
        out.write("\nBoot entries: \(count(entryCount, "node")) in \(count(groups.count, "group")) of like entries"
            + (refused.isEmpty ? "" : ", \(refused.count) refused") + " (--show-boot-entries lists each node)\n")
        for group in groups {
            out.write("  \(count(group.count, "node")), \(group.key.loader.rawValue): " + group.sample + "\n")
            let files = BootEntryRenderer.locations(loader: group.key.loader, pxeName: "01-{mac}").map(root)
            out.write("      files " + files.joined(separator: ", ") + "\n")
            writeKernel(group.key.install, to: &out)
        }
        for line in refused.prefix(refusalsShown) { out.write("  \(line)\n") }
        if refused.count > refusalsShown {
            out.write("  … and \(refused.count - refusalsShown) more refused (--show-boot-entries lists them)\n")
        }
    }

    /// The boot section as one string.
    public static func text(plan: Plan, desired: DesiredState, everyEntry: Bool = false) -> String {
        var out = ""
        text(plan: plan, desired: desired, everyEntry: everyEntry, to: &out)
        return out
    }

    private static func writeKernel<Output: TextOutputStream>(_ install: InstallKernel, to out: inout Output) {
        out.write("      kernel \(install.kernel) initrd \(install.initrd)\n")
        out.write("      args \(install.arguments.joined(separator: " "))\n")
    }

    private static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// Nodes whose entries are alike: the same loader and kernel, and the same command line once the node's own
    /// arguments (`rackswarm.node=`, the report URL) are written with `{node}`.
    struct Group {
        struct Key: Hashable {
            var loader: BootEntry.Loader
            var install: InstallKernel

            init(entry: BootEntry, install: InstallKernel) {
                loader = entry.loader
                var template = install
                let report = "/report/" + entry.node
                template.arguments = install.arguments.map { argument in
                    if argument.hasPrefix("rackswarm.node="), argument.utf8.count == entry.node.utf8.count + 15,
                       argument.hasSuffix(entry.node) {
                        return "rackswarm.node={node}"
                    }
                    if argument.hasPrefix("rackswarm.report="), argument.hasSuffix(report) {
                        return String(argument.dropLast(entry.node.count)) + "{node}"
                    }
                    return argument
                }
                self.install = template
            }
        }

        var key: Key
        /// How many nodes, the first five and the last: all the grouped view names of them.
        var count = 0
        var first: [String] = []
        var last = ""

        init(key: Key) {
            self.key = key
        }

        mutating func add(_ node: String) {
            count += 1
            if first.count < 5 { first.append(node) }
            last = node
        }

        /// The first few names and the last: `r1n1, r1n2, r1n3, r1n4, … r9n4`.
        var sample: String {
            guard count > 5 else { return first.joined(separator: ", ") }
            return first.prefix(4).joined(separator: ", ") + ", … " + last
        }
    }
}
