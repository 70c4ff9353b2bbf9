import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// What `--dry-run` prints at any size: grouped boot entries (each node's with `--show-boot-entries`), and JSON
/// streamed piece by piece with the same content `JSONEncoder` gave.
struct DryRunOutputTests {
    static func firstInstall() throws -> (DesiredState, Plan) {
        let desired = try PlannerTests.example()
        return (desired, Planner.plan(desired: desired, observed: ObservedState()))
    }

    @Test(arguments: [false, true])
    func bootEntriesMatchGolden(everyEntry: Bool) throws {
        let (desired, plan) = try Self.firstInstall()
        let text = BootEntryPreview.text(plan: plan, desired: desired, everyEntry: everyEntry)
        let golden = Repo.fixtures.appendingPathComponent(
            "plans/first-install-boot-entries\(everyEntry ? "-each" : "").txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(text == (try String(contentsOf: golden, encoding: .utf8)))
    }

    @Test func groupsHoldEveryNodeOnceWithTheirOwnArgumentsTemplated() throws {
        let (desired, plan) = try Self.firstInstall()
        let text = BootEntryPreview.text(plan: plan, desired: desired)
        // examples/datacenter: six iPXE nodes, one GRUB, one pxelinux, all on one image.
        #expect(text.contains("Boot entries: 8 nodes in 3 groups of like entries"))
        #expect(text.contains("  6 nodes, ipxe: "))
        #expect(text.contains("  1 node, grub: "))
        #expect(text.contains("  1 node, pxelinux: "))
        #expect(text.contains("rackswarm.node={node} "))
        #expect(text.contains("/report/{node}\n"))
        #expect(text.contains("/ipxe/01-{mac}.ipxe"))
        // Each node's entry, in full, only on request.
        let each = BootEntryPreview.text(plan: plan, desired: desired, everyEntry: true)
        for node in desired.nodes {
            #expect(!text.contains("rackswarm.node=\(node.name) "))
            let heading = "  \(node.name) (\(node.bootLoader.rawValue), \(node.mac.value) -> \(node.ip.value)): "
            #expect(each.contains(heading))
            #expect(each.contains("rackswarm.node=\(node.name) "))
        }
    }

    @Test func refusedNodesAreListedByNameInEitherView() throws {
        var (desired, plan) = try Self.firstInstall()
        // Two nodes on one IP (the loader refuses this; the preview still must not hide it).
        desired.nodes[1].ip = desired.nodes[0].ip
        plan = Planner.plan(desired: desired, observed: ObservedState())
        let text = BootEntryPreview.text(plan: plan, desired: desired)
        #expect(text.contains("Boot entries: 6 nodes in 3 groups of like entries, 2 refused"))
        for node in desired.nodes.prefix(2) {
            #expect(text.contains("  \(node.name): refused: "))
            #expect(BootEntryPreview.text(plan: plan, desired: desired, everyEntry: true)
                .contains("  \(node.name): refused: "))
        }
    }

    @Test func aLargeSitePrintsAHandfulOfLinesUnlessAsked() throws {
        let desired = try PlannerTests.generated(600, perRack: 40)
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let grouped = BootEntryPreview.text(plan: plan, desired: desired)
        #expect(grouped.split(separator: "\n").count < 10)
        #expect(grouped.contains("600 nodes in 1 group"))
        let each = BootEntryPreview.text(plan: plan, desired: desired, everyEntry: true)
        #expect(each.split(separator: "\n").count == 1 + 3 * 600)
    }

    /// The document the dry run printed before it streamed: `JSONEncoder` over the whole plan.
    struct EncodedPlan: Encodable {
        var commit: String?
        var site: String
        var actions: [PlannedAction]
        var orphaned: [String]
        var summary: Plan.Summary
    }

    static func encoded(_ plan: Plan, site: String, commit: String?) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let document = EncodedPlan(commit: commit, site: site, actions: plan.actions, orphaned: plan.orphaned,
                                   summary: plan.summary)
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }

    static func parsed(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    @Test func streamedJSONIsWhatTheEncoderWrote() throws {
        let desired = try PlannerTests.generated(300, perRack: 20)
        var observed = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                desired: desired)
        observed.nodes["n1"]?.services = ["web", "vod"]
        observed.nodes["n2"]?.image = "os@0.9"
        observed.nodes["gone"] = NodeStatus(phase: .ready, image: "os@1.0", rack: "r0000")
        let plans = [Planner.plan(desired: desired, observed: ObservedState()),
                     Planner.plan(desired: desired, observed: observed), Plan()]
        for plan in plans {
            for commit in [nil, "0123456789abcdef0123456789abcdef01234567"] {
                let streamed = PlanRenderer().json(plan, site: desired.site.name, commit: commit)
                let before = try Self.encoded(plan, site: desired.site.name, commit: commit)
                #expect(try Self.parsed(streamed) == (try Self.parsed(before)))
                #expect(streamed == before)
            }
        }
    }

    @Test func streamedJSONEscapesLikeTheEncoder() throws {
        let odd = "quote \" back \\ slash / tab \t line \n bell \u{07} nul \u{00} e\u{301} ✓"
        let plan = Plan(actions: [PlannedAction(node: "n\"1", rack: "r/1", wave: 1, kind: .installService,
                                                destructive: false, detail: odd, service: "s\\1")],
                        changes: ["n\"1": .services], orphaned: ["a\u{1F}b", "ü"])
        let streamed = PlanRenderer().json(plan, site: "site \u{0C}", commit: "c\r")
        let before = try Self.encoded(plan, site: "site \u{0C}", commit: "c\r")
        #expect(try Self.parsed(streamed) == (try Self.parsed(before)))
    }

    @Test func commandGroupsByDefaultAndListsEachEntryOnRequest() async throws {
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let grouped = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site])
        #expect(grouped.status == 2)
        #expect(grouped.stdout.contains("Boot entries: 8 nodes in 3 groups of like entries"))
        let each = try await runProcess(ValidateCommandTests.binary, ["plan", "--show-boot-entries", "--repo", site])
        #expect(each.status == 2)
        #expect(each.stdout.contains("\nBoot entries:\n  r1n1 ("))
        let plan = { (text: String) in text.components(separatedBy: "\nBoot entries").first }
        #expect(plan(grouped.stdout) == plan(each.stdout))
        let refused = try await runProcess(ValidateCommandTests.binary,
                                     ["apply", "--dry-run", "--show-boot-entries", "--output", "json", "--repo", site])
        #expect(refused.status != 0 && refused.status != 2)
        #expect(refused.stderr.contains("--show-boot-entries is for --dry-run text output"))
    }

    @Test func commandStreamsTheSameJSON() async throws {
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, _) = try await runProcess(ValidateCommandTests.binary,
                                                 ["plan", "--repo", site, "--output", "json"])
        #expect(status == 2)
        let (desired, plan) = try Self.firstInstall()
        #expect(stdout == (try Self.encoded(plan, site: desired.site.name, commit: nil)))
    }
}
