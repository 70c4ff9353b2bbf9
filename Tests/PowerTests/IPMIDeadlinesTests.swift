import Foundation
import NIOPosix
import Testing

@testable import Drivers

/// A mailbox's receive deadlines, fired by one event-loop timer per millisecond (`IPMIDeadlines`): never early, a
/// datagram before the deadline wins, and a spent deadline firing later leaves the next receive alone.
struct IPMIDeadlinesTests {
    let deadlines = IPMIDeadlines(eventLoop: MultiThreadedEventLoopGroup.singleton.next())

    @Test func aReceiveWithoutADatagramEndsAtItsDeadlineNotBefore() async {
        let mailbox = IPMIMailbox()
        let started = ContinuousClock.now
        let deadline = started.advanced(by: .milliseconds(80))
        let got = await mailbox.receive(until: deadline, deadlines: deadlines)
        #expect(got == nil)
        #expect(ContinuousClock.now >= deadline, "ended \(started.duration(to: .now)) after the start, before 80 ms")
    }

    @Test func manyReceivesInOneMillisecondAllEnd() async {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(50))
        let ended = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask { [deadlines] in
                    await IPMIMailbox().receive(until: deadline, deadlines: deadlines) == nil
                        && ContinuousClock.now >= deadline
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(ended == 200)
    }

    @Test func aDatagramBeforeTheDeadlineWinsAndItsSpentDeadlineLeavesTheNextReceiveAlone() async {
        let mailbox = IPMIMailbox()
        // The datagram goes in once the receive waits, not after a fixed sleep: when 57 suites start at once, the
        // receive's task can start after a short deadline, and a datagram queued then would go to the next receive.
        // A thread of its own delivers it: the test's task shares the two threads of Swift's pool with tests that
        // block them (synchronous sockets and child processes), and polling from there once missed a 2 s deadline.
        let first = ContinuousClock.now.advanced(by: .seconds(5))
        let deliverer = Thread {
            while !mailbox.isWaiting, ContinuousClock.now < first { usleep(1000) }
            mailbox.deliver([1, 2, 3])
        }
        deliverer.start()
        #expect(await mailbox.receive(until: first, deadlines: deadlines) == [1, 2, 3])
        // The first receive's deadline fires while this one waits: it must not end it.
        async let next = mailbox.receive(until: .now.advanced(by: .seconds(60)), deadlines: deadlines)
        try? await Task.sleep(until: first.advanced(by: .milliseconds(300)))
        mailbox.deliver([4])
        #expect(await next == [4], "the first receive's spent deadline ended the second one")
    }
}
