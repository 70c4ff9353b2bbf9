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

/// Runs benchmarks/lab/lab.py with `arguments` (after `--bin`, `--work` and `--out`) in a new directory under
/// /dev/shm, after checking that the lab can run here (root, `ip netns`, built executables; CI runs as root, so a
/// missing capability is a failure, not a skip). Returns the work directory (the caller removes it), the run and the
/// JSON document lab.py wrote.
func runDistributionLab(_ name: String, _ arguments: [String], timeout: Double) async throws
    -> (work: String, run: LabCommandResult, result: [String: Any])
{
    try #require(geteuid() == 0, "the distribution lab needs root (ip netns, tc); run the tests as root")
    let probe = await runCommand("/usr/sbin/ip", ["netns", "list"], timeout: 10)
    try #require(probe.status == 0, "`ip netns list` failed (install iproute2): \(probe.output)")
    let bin = try #require(builtBinaries, "build the executables first (swift build --build-tests)")
    let work = "/dev/shm/rs-\(name)-test-\(getpid())-\(UUID().uuidString.prefix(8))"
    let run = await runCommand(
        "/usr/bin/python3",
        [packageRoot + "/benchmarks/lab/lab.py", "--bin", bin, "--work", work, "--out", work + "/result.json"]
            + arguments,
        timeout: timeout, grace: 15
    )
    #expect(!run.timedOut, "the lab did not finish in \(Int(timeout)) s")
    #expect(run.status == 0, "lab.py exited \(run.status): \(run.output)")
    guard let data = try? Data(contentsOf: URL(fileURLWithPath: work + "/result.json")),
        let result = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else {
        try? FileManager.default.removeItem(atPath: work)
        throw LabRunError(message: "lab.py wrote no readable result: \(run.output)")
    }
    return (work, run, result)
}

/// The lab wrote no result document.
struct LabRunError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
