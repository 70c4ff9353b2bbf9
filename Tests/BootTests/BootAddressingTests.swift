import Drivers
import Foundation
import LabSupport
import Logging
import Reconciler
import Testing

/// Several reconcilers share a site: the entries each writes name its own boot server and list the others as
/// fallbacks, and one that takes a rack over rewrites that rack's entries to name it, keeping each install's token.
struct BootAddressingTests {
    static let a = BootAddressing(server: BootServerAddress(host: "10.77.0.2", httpPort: 8080),
                                  fallbacks: ["http://10.77.0.3:8080", "http://10.77.0.4:8080"])
    static let b = BootAddressing(server: BootServerAddress(host: "10.77.0.3", httpPort: 8080),
                                  fallbacks: ["http://10.77.0.4:8080"])
    static let key = SiteKey(bytes: Array("boot-addressing-tests-site-key".utf8))!

    /// A file driver writing as the reconciler at `addressing`, over roots holding every image's kernel and initrd.
    static func driver(_ directory: TemporaryDirectory, _ desired: DesiredState, as addressing: BootAddressing) throws
        -> FileBootDriver
    {
        for image in desired.images {
            for root in ["tftp", "http"] {
                try directory.write("\(root)/\(image.kernel.value)", Data("kernel".utf8))
                try directory.write("\(root)/\(image.initrd.value)", Data("initrd".utf8))
            }
        }
        return FileBootDriver(tftpRoot: try directory.subdirectory("tftp"),
                              httpRoot: try directory.subdirectory("http"), server: addressing.server, tokens: InstallTokenMinter(siteKey: key),
                              logger: Logger(label: "test.boot"))
    }

    static func arguments(_ entry: BootEntry?) throws -> InstallArguments {
        guard case .install(let install)? = entry?.mode else { throw TestFailure("no install entry") }
        return try #require(InstallArguments(parsing: install.arguments))
    }

    /// Every file of the node's entry, one after the other.
    static func files(of node: Node, in directory: TemporaryDirectory) throws -> String {
        let loader = BootEntry.Loader(node.bootLoader)
        return try BootEntryRenderer.locations(loader: loader, pxeName: node.mac.value.pxeName).map { place in
            try directory.read("\(place.root.rawValue)/\(place.path)")
        }.joined(separator: "\n")
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test func anEntryNamesItsWriterAndListsTheFallbacks() throws {
        let desired = try BootExecutionTests.datacenter()
        let node = try #require(desired.nodes.first)
        let arguments = try Self.arguments(BootEntries(desired: desired, addressing: Self.a).entries[node.name])
        let base = "http://10.77.0.2:8080"
        #expect(arguments.reportURL == "\(base)/report/\(node.name)" && arguments.trackerURL == "\(base)/announce")
        #expect(arguments.torrentURL.hasPrefix("\(base)/torrents/"))
        #expect(arguments.fallbacks == Self.a.fallbacks)
        guard case .install(let install)? = BootEntries(desired: desired, addressing: Self.a).entries[node.name]?.mode
        else { throw TestFailure("no install entry") }
        #expect(install.arguments.contains("rackswarm.fallback=http://10.77.0.3:8080,http://10.77.0.4:8080"))
        // One reconciler: the site's address and no fallback argument, as before.
        guard case .install(let alone)? = BootEntries(desired: desired).entries[node.name]?.mode else {
            throw TestFailure("no install entry")
        }
        #expect(!alone.arguments.contains { $0.hasPrefix("rackswarm.fallback=") })
        let site = "http://\(desired.site.network.serverAddress):\(desired.site.network.httpPort)"
        #expect(try Self.arguments(BootEntries(desired: desired).entries[node.name]).reportURL.hasPrefix(site))
    }

    @Test func theFallbackArgumentRoundTripsAndIsOptional() throws {
        var arguments = InstallArguments(node: "n1", imageReference: "x@1", sha256: String(repeating: "0", count: 64),
                                         server: Self.a.server)
        #expect(InstallArguments(parsing: arguments.rendered)?.fallbacks == [])
        arguments.fallbacks = Self.a.fallbacks
        arguments.token = "t0k"
        let rendered = arguments.rendered
        #expect(rendered.suffix(2) == ["rackswarm.fallback=http://10.77.0.3:8080,http://10.77.0.4:8080",
                                       "rackswarm.token=t0k"])
        #expect(InstallArguments(parsing: rendered) == arguments)
        #expect(BootServerAddress(httpBase: "http://10.77.0.3:8080") == Self.b.server)
        #expect(BootServerAddress(httpBase: "http://h")?.httpPort == 80)
        #expect(BootServerAddress(httpBase: "ftp://h:1") == nil && BootServerAddress(httpBase: "http://h:1/x") == nil)
    }

    @Test func theIPXEScriptOfAnEntryFetchesFromItsWriter() async throws {
        let directory = try TemporaryDirectory()
        let desired = try BootExecutionTests.datacenter()
        let node = try #require(desired.nodes.first { $0.bootLoader == .ipxe })
        let driver = try Self.driver(directory, desired, as: Self.a)
        let entry = try #require(BootEntries(desired: desired, addressing: Self.a).entries[node.name])
        try await driver.write(entry)
        let script = try directory.read("http/ipxe/\(entry.pxeName).ipxe")
        #expect(script.contains("kernel http://10.77.0.2:8080/"), "\(script)")
        #expect(script.contains("initrd http://10.77.0.2:8080/"), "\(script)")
        #expect(script.contains("rackswarm.fallback=http://10.77.0.3:8080,http://10.77.0.4:8080"), "\(script)")
        let chain = try directory.read("tftp/ipxe/\(entry.pxeName).ipxe")
        #expect(chain.contains("chain http://10.77.0.2:8080/ipxe/\(entry.pxeName)"), "\(chain)")
    }

    @Test func aTakerRewritesTheEntriesOfItsRacksKeepingEachInstallsToken() async throws {
        let directory = try TemporaryDirectory()
        let desired = try BootExecutionTests.datacenter()
        let racks = Set(desired.nodes.map(\.rack.value))
        #expect(racks.count >= 2, "the example has two racks")
        let taken = try #require(racks.sorted().first)
        // A wrote every entry: installs, one node already installed (local boot).
        let writerA = try Self.driver(directory, desired, as: Self.a)
        let entriesA = BootEntries(desired: desired, addressing: Self.a).entries
        let installed = try #require(desired.nodes.first { $0.rack.value == taken && $0.bootLoader == .ipxe })
        for node in desired.nodes {
            if node.name == installed.name {
                try await writerA.write(BootEntry(localBoot: node))
            } else {
                try await writerA.write(try #require(entriesA[node.name]))
            }
        }
        var tokens: [String: String] = [:]
        for node in desired.nodes { tokens[node.name] = try await writerA.installToken(node: node.name) }

        // B takes `taken` over and rewrites its nodes' entries.
        let writerB = try Self.driver(directory, desired, as: Self.b)
        let executor = BootActionExecutor(driver: writerB, desired: desired, addressing: Self.b)
        let rewritten = try await executor.rewrite(racks: [taken])
        let inRack = desired.nodes.filter { $0.rack.value == taken }
        #expect(Set(rewritten) == Set(inRack.map(\.name)))
        for node in desired.nodes {
            let text = try Self.files(of: node, in: directory)
            #expect(try await writerB.installToken(node: node.name) == tokens[node.name], "\(node.name)'s token")
            if node.name == installed.name {
                #expect(text.contains("sanboot") && tokens[node.name] == nil, "\(text)")
                #expect(text.contains("chain http://10.77.0.3:8080/ipxe/"), "\(text)")
            } else if node.rack.value == taken {
                #expect(text.contains("kernel http://10.77.0.3:8080/"), "\(node.name): \(text)")
                #expect(text.contains("rackswarm.report=http://10.77.0.3:8080/report/\(node.name)"))
                #expect(text.contains("rackswarm.fallback=http://10.77.0.4:8080 "))
                #expect(text.contains("rackswarm.token=\(tokens[node.name] ?? "?")"))
            } else {
                #expect(text.contains("rackswarm.report=http://10.77.0.2:8080/report/\(node.name)"),
                        "another rack stays A's: \(node.name): \(text)")
            }
        }
        // An entry of another kind (an erase under way) is left for the plan.
        let eraser = try #require(inRack.first { $0.name != installed.name })
        try await writerA.write(BootEntry(erasing: eraser, mode: .quick, kernel: "installer/vmlinuz",
                                          initrd: "installer/initramfs.img", arguments: []))
        let again = try await executor.rewrite(racks: [taken])
        #expect(!again.contains(eraser.name) && again.count == inRack.count - 1)
        #expect(try Self.files(of: eraser, in: directory).contains("rackswarm.erase=quick"))
    }
}
