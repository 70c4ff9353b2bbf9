import Foundation
import LabSupport
import Testing

/// Network namespace names currently on the host.
func namespaceNames() async -> [String] {
    let listed = await runCommand("/usr/sbin/ip", ["netns", "list"], timeout: 10)
    return listed.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
}

/// Whether a process with this pid exists.
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}

/// One run of benchmarks/lab/lab.py, as a test reads it.
struct DistributionLabRun {
    /// lab.py's own output.
    let run: LabCommandResult
    /// The whole JSON document lab.py wrote.
    let result: [String: Any]
    /// Its one run record (`runs[0]`).
    let record: [String: Any]
    /// The file the seed served.
    let source: Data
}

/// Runs benchmarks/lab/lab.py with `arguments` (after `--bin`, `--work` and `--out`; they must ask for one run; the
/// copies are kept and no rate timeline is recorded) in a new directory under /dev/shm, after checking that the lab can run here (root, `ip netns`,
/// built executables; CI runs as root, so a missing capability is a failure, not a skip). Expects `copies` copies,
/// each byte-identical to the source, then runs `body` on the run, and removes the directory whatever happened.
func withDistributionLab(
    _ name: String, _ arguments: [String], timeout: Double, copies: Int, _ body: (DistributionLabRun) async throws -> Void
) async throws {
    try #require(geteuid() == 0, "the distribution lab needs root (ip netns, tc); run the tests as root")
    let probe = await runCommand("/usr/sbin/ip", ["netns", "list"], timeout: 10)
    try #require(probe.status == 0, "`ip netns list` failed (install iproute2): \(probe.output)")
    let bin = try #require(builtBinaries, "build the executables first (swift build --build-tests)")
    let work = "/dev/shm/rs-\(name)-test-\(getpid())-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: work) }
    let run = await runCommand(
        "/usr/bin/python3",
        [packageRoot + "/benchmarks/lab/lab.py", "--bin", bin, "--work", work, "--out", work + "/result.json"]
            + arguments + ["--timeline-for", "0", "--keep-copies"],
        timeout: timeout, grace: 15
    )
    #expect(!run.timedOut, "the lab did not finish in \(Int(timeout)) s")
    #expect(run.status == 0, "lab.py exited \(run.status): \(run.output)")
    let data = try #require(try? Data(contentsOf: URL(fileURLWithPath: work + "/result.json")),
                            "lab.py wrote no result: \(run.output)")
    let result = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let runs = try #require(result["runs"] as? [[String: Any]])
    try #require(runs.count == 1, "one run expected: \(run.output)")
    let source = try Data(contentsOf: URL(fileURLWithPath: try #require(result["source"] as? String)))

    // Every copy is whole and right.
    let paths = try #require(runs[0]["copies"] as? [String])
    #expect(paths.count == copies)
    for path in paths {
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == source, "\(path) differs from the source")
    }
    try await body(DistributionLabRun(run: run, result: result, record: runs[0], source: source))
}
