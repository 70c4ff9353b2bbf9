import Foundation
import LabSupport

/// Network namespace names currently on the host.
func namespaceNames() async -> [String] {
    let listed = await runCommand("/usr/sbin/ip", ["netns", "list"], timeout: 10)
    return listed.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
}

/// Whether a process with this pid exists.
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}
