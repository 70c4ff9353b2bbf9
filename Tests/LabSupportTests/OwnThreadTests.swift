import Foundation
import LabSupport
import Testing

/// `onOwnThread` runs a computation off the global executor's threads, in the calling test's task.
struct OwnThreadTests {
    /// A flag set by one task and spun on by others.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var raised = false

        func raise() { lock.withLock { raised = true } }

        /// Computes (yields the CPU but stays runnable) until the flag is raised; false if `seconds` pass first.
        func spin(upTo seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if lock.withLock({ raised }) { return true }
                sched_yield()
            }
            return false
        }
    }

    @Test func theBodyGivesItsResultOrError() async throws {
        #expect(await onOwnThread { 6 * 7 } == 42)
        await #expect(throws: LabError.self) { try await onOwnThread { throw LabError("inside") } }
    }

    @Test func anIssueInTheBodyIsTheTests() async {
        await withKnownIssue {
            await onOwnThread { () -> Void in Issue.record("recorded on the own thread") }
        }
    }

    /// More computing bodies than the pool has threads, each spinning until a task on the pool raises a flag: on
    /// the pool, the bodies would hold every thread (libdispatch adds none for a runnable worker) and the flag
    /// would never be raised.
    @Test func computingBodiesLeaveThePoolFree() async {
        let flag = Flag()
        let bodies = ProcessInfo.processInfo.activeProcessorCount + 1
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<bodies {
                group.addTask { await onOwnThread { flag.spin(upTo: 60) } }
            }
            group.addTask {
                flag.raise()
                return true
            }
            for await raisedInTime in group { #expect(raisedInTime) }
        }
    }
}
