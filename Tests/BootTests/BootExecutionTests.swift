import Drivers
import DriversTesting
import Foundation
import LabSupport
import Reconciler
import Testing

/// The model maps onto the driver's plain entries, and the planner's boot actions run through a driver:
/// a refused node fails alone, the others go on.
struct BootExecutionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func datacenter() throws -> DesiredState {
        let result = SiteLoader.load(path: root.appendingPathComponent("examples/datacenter").path)
        return try #require(result.state, "\(result.diagnostics)")
    }

    @Test func aNodeAndItsImageMapToAnInstallEntry() throws {
        let desired = try Self.datacenter()
        let node = try #require(desired.nodes.first { $0.bootLoader == .pxelinux })
        let image = try #require(desired.image(named: node.image.value))
        let entry = BootEntry(installing: node, image: image, site: desired.site)
        #expect(entry.node == node.name && entry.mac == node.mac.value.description && entry.loader == .pxelinux)
        #expect(entry.pxeName == node.mac.value.pxeName)
        guard case .install(let install) = entry.mode else {
            Issue.record("not an install entry")
            return
        }
        #expect(install.kernel == image.kernel.value && install.initrd == image.initrd.value)
        #expect(Array(install.arguments.prefix(image.kernelArgs.count)) == image.kernelArgs)
        let arguments = try #require(InstallArguments(parsing: install.arguments))
        let base = "http://\(desired.site.network.serverAddress):\(desired.site.network.httpPort)"
        #expect(arguments.node == node.name && arguments.sha256 == image.sha256.value.lowercased())
        #expect(arguments.torrentURL == "\(base)/torrents/\(image.reference).torrent")
        #expect(arguments.trackerURL == "\(base)/announce" && arguments.reportURL == "\(base)/report/\(node.name)")
    }

    @Test func collidingNodesAreRefusedAndTheOthersGetEntries() throws {
        var desired = try Self.datacenter()
        #expect(BootEntries(desired: desired).refused.isEmpty)
        // The loader rejects duplicates in YAML; the executor checks again on what it is handed.
        desired.nodes[1].ip = desired.nodes[0].ip
        desired.nodes[3].mac = desired.nodes[2].mac
        let prepared = BootEntries(desired: desired)
        let names = desired.nodes.map(\.name)
        #expect(prepared.refused[names[0]]?.code == .ipCollision && prepared.refused[names[1]]?.code == .ipCollision)
        #expect(prepared.refused[names[2]]?.code == .macCollision && prepared.refused[names[3]]?.code == .macCollision)
        #expect(prepared.refused[names[1]]?.description.contains(names[0]) == true)
        #expect(prepared.entries.count == desired.nodes.count - 4)
        #expect(Set(prepared.entries.keys) == Set(names.dropFirst(4)))
    }

    @Test(arguments: [BootSettings.AfterInstall.localBoot, .remove])
    func planActionsRunThroughTheDriver(afterInstall: BootSettings.AfterInstall) async throws {
        var desired = try Self.datacenter()
        desired.site.boot.afterInstall = afterInstall
        desired.nodes[1].ip = desired.nodes[0].ip
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let fake = FakeBootDriver()
        let executor = BootActionExecutor(driver: fake, desired: desired)
        var failed: Set<String> = []
        for action in plan.actions where !failed.contains(action.node) {
            do {
                _ = try await executor.perform(action)
            } catch let error as BootError {
                #expect(error.node == action.node && error.code == .ipCollision)
                failed.insert(action.node)
            }
        }
        #expect(failed == [desired.nodes[0].name, desired.nodes[1].name])
        let calls = await fake.calls
        let writes = calls.compactMap { call -> BootEntry? in
            if case .write(let entry) = call { return entry }
            return nil
        }
        let others = desired.nodes.count - 2
        #expect(writes.filter { if case .install = $0.mode { true } else { false } }.count == others)
        let entries = await fake.entries
        switch afterInstall {
        case .localBoot:
            #expect(writes.filter { $0.mode == .localBoot }.count == others)
            #expect(entries.count == others && entries.values.allSatisfy { $0.mode == .localBoot })
        case .remove:
            #expect(calls.filter { if case .remove = $0 { true } else { false } }.count == others)
            #expect(entries.isEmpty)
        }
        #expect(try await executor.perform(PlannedAction(node: "gone", rack: "r9", wave: 1, kind: .removeBootEntry,
                                                         destructive: false, detail: "")))
        #expect(await fake.calls.last == .remove("gone"))
    }

    @Test func dryRunShowsTheEntryEachNodeWouldGet() async throws {
        let binary = Self.root.appendingPathComponent(".build/debug/reconcile").path
        let result = await runTool(binary, ["apply", "--dry-run", "--show-boot-entries", "--repo",
                                            Self.root.appendingPathComponent("examples/datacenter").path])
        #expect(result.status == 2, "\(result.output)")
        let desired = try Self.datacenter()
        #expect(result.output.contains("\nBoot entries:\n"))
        for node in desired.nodes {
            let file: String
            switch node.bootLoader {
            case .pxelinux: file = "\(desired.site.boot.tftpRoot)/pxelinux.cfg/\(node.mac.value.pxeName)"
            case .grub: file = "\(desired.site.boot.tftpRoot)/grub/grub.cfg-\(node.mac.value.pxeName)"
            case .ipxe: file = "\(desired.site.boot.httpRoot)/ipxe/\(node.mac.value.pxeName).ipxe"
            }
            #expect(result.output.contains("  \(node.name) (\(node.bootLoader.rawValue), \(node.mac.value) -> "
                                           + "\(node.ip.value)): "), "\(node.name)")
            #expect(result.output.contains(file), "\(node.name): \(file)")
            #expect(result.output.contains("rackswarm.node=\(node.name) rackswarm.torrent="), "\(node.name)")
        }
    }
}

/// Through the executor's `ActionPerformer` interface, boot errors carry their intent.
struct BootActionPerformerTests {
    @Test func bootErrorsBecomeStalledFailuresAndOtherKindsAreRefused() async throws {
        var desired = try BootExecutionTests.datacenter()
        desired.nodes[1].ip = desired.nodes[0].ip
        let performer: any ActionPerformer = BootActionExecutor(driver: FakeBootDriver(), desired: desired)
        let node = desired.nodes[0]
        let write = PlannedAction(node: node.name, rack: node.rack.value, wave: 1, kind: .writeBootEntry,
                                  destructive: false, detail: "")
        let failure = try await #require(throws: ActionFailure.self) {
            try await performer.perform(write, on: node, image: desired.image(named: node.image.value))
        }
        #expect(failure.intent == .stalled && failure.message.contains(node.name))
        let healthy = desired.nodes[2]
        try await performer.perform(
            PlannedAction(node: healthy.name, rack: healthy.rack.value, wave: 1, kind: .writeBootEntry,
                          destructive: false, detail: ""),
            on: healthy, image: desired.image(named: healthy.image.value))
        var power = write
        power.kind = .powerCycle
        let refused = try await #require(throws: ActionFailure.self) {
            try await performer.perform(power, on: node, image: nil)
        }
        #expect(refused.intent == .stalled && refused.message.contains("powerCycle"))
    }
}
