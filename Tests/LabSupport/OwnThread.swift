import Foundation

/// Runs `body` on a thread started for it, while the calling task waits without holding a thread of the global
/// executor: for a test that computes for seconds (a fuzz loop, a 50 MB line), written as `async` with its body in
/// `onOwnThread { … }`. The task stays the same, so `#expect` and `#require` record against the running test.
///
/// Why: Swift Testing runs a synchronous test body on one of the global executor's threads, and on Linux libdispatch
/// keeps that pool at one thread per core (two here). It adds a thread only while a worker is blocked in a system
/// call, not while one computes or waits for the CPU. Two long computations on a loaded machine therefore held both
/// threads for 25 s and more, and every other test's task waited behind them: `reconcile validate` children that
/// ended in a second stayed unreaped (zombies) for 26 s, and servers answered no request. On its own thread the
/// computation still gets its share of the CPU; the pool stays free for the tasks that only need a moment of it.
public func onOwnThread<T, Failure: Error>(_ body: () throws(Failure) -> T) async throws(Failure) -> T {
    let executor = OwnThreadExecutor()
    defer { executor.finish() }
    return try await withTaskExecutorPreference(executor) { () throws(Failure) -> T in try body() }
}

/// A task executor with one thread, which runs the jobs given to it in order until `finish`.
private final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    init() {
        Thread { [self] in run() }.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// Lets the thread end once it has run the jobs it holds (the one running `finish` included).
    func finish() {
        condition.withLock {
            finished = true
            condition.signal()
        }
    }

    private func run() {
        while true {
            let job: UnownedJob? = condition.withLock {
                while jobs.isEmpty && !finished { condition.wait() }
                return jobs.isEmpty ? nil : jobs.removeFirst()
            }
            guard let job else { return }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
