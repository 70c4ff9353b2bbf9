import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One UDP socket per address family that carries every IPMI session of the process, routing each reply to
/// the session talking to its sender. Only one session per BMC address runs at a time; others queue.
///
/// Every session runs on the socket's event loop (a task executor preference), like a single-threaded C tool:
/// a datagram is read, checked and answered on one thread, without hopping through the cooperative pool.
public final class IPMITransport: Sendable {
    private let eventLoop: any EventLoop
    /// The task executor sessions run on: the socket's event loop.
    public let executor: any TaskExecutor
    private let channels = NIOLockedValueBox<[Family: EventLoopFuture<any Channel>]>([:])
    private let router = IPMIRouter()
    private let deadlines: IPMIDeadlines
    /// The cipher suite each BMC last accepted, so later sessions ask for it first and skip a refused round trip.
    private let negotiated = NIOLockedValueBox<[String: IPMICipherSuite]>([:])

    private enum Family: Hashable { case inet, inet6 }

    /// Creates a transport on the given event loops (NIO's shared singleton by default).
    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        eventLoop = group.next()
        executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        deadlines = IPMIDeadlines(eventLoop: eventLoop)
    }

    /// Closes the sockets. Sessions still running fail.
    public func shutdown() async {
        let futures = channels.withLockedValue { channels in
            defer { channels.removeAll() }
            return Array(channels.values)
        }
        for future in futures { try? await future.get().close() }
    }

    /// The allowed suites in the order a session to `bmc` should try them: the one it accepted last, then the rest.
    func suites(for bmc: String, allowed: [IPMICipherSuite]) -> [IPMICipherSuite] {
        guard let known = negotiated.withLockedValue({ $0[bmc] }), allowed.contains(known) else { return allowed }
        return [known] + allowed.filter { $0 != known }
    }

    /// Remembers the suite a BMC accepted.
    func remember(_ suite: IPMICipherSuite, for bmc: String) {
        negotiated.withLockedValue { $0[bmc] = suite }
    }

    /// Takes the route for one BMC address for the duration of `body`.
    func withRoute<T: Sendable>(to address: SocketAddress, _ body: (IPMIRoute) async throws(PowerError) -> T)
        async throws(PowerError) -> T
    {
        let channel: any Channel
        do {
            channel = try await self.channel(for: address)
        } catch {
            throw PowerError(.unreachable, bmc: "\(address)", "cannot open a UDP socket: \(error)")
        }
        let mailbox = await router.claim(address)
        defer { router.release(address) }
        let route = IPMIRoute(channel: channel, address: address, mailbox: mailbox, deadlines: deadlines)
        let result: Result<T, PowerError> = await withTaskExecutorPreference(executor) {
            do throws(PowerError) {
                return .success(try await body(route))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func channel(for address: SocketAddress) async throws -> any Channel {
        let family: Family = address.protocol == .inet6 ? .inet6 : .inet
        let future = channels.withLockedValue { channels in
            if let existing = channels[family] { return existing }
            let router = self.router
            let created = DatagramBootstrap(group: eventLoop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                // Room for a burst of answers from thousands of BMCs (the kernel caps it at net.core.rmem_max).
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramHandler { bytes, sender in
                            router.deliver(bytes, from: sender)
                            return nil
                        })
                    }
                }
                .bind(host: family == .inet6 ? "::" : "0.0.0.0", port: 0)
            channels[family] = created
            return created
        }
        return try await future.get()
    }
}

/// One session's view of the transport: send to the BMC, receive what it sent back.
struct IPMIRoute: Sendable {
    let channel: any Channel
    let address: SocketAddress
    let mailbox: IPMIMailbox
    let deadlines: IPMIDeadlines

    /// Sends one datagram without waiting for the write: a lost or refused datagram shows up as a timeout, which
    /// the session retransmits, so a per-datagram promise would buy nothing.
    func send(_ bytes: [UInt8]) {
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    /// The next datagram from the BMC, or nil if none came before the deadline.
    func receive(until deadline: ContinuousClock.Instant) async -> [UInt8]? {
        await mailbox.receive(until: deadline, deadlines: deadlines)
    }
}

/// Routes inbound datagrams by sender address to the mailbox of the session that claimed it.
final class IPMIRouter: Sendable {
    private struct Entry {
        var mailbox: IPMIMailbox
        var waiters: [CheckedContinuation<IPMIMailbox, Never>] = []
    }

    private let routes = NIOLockedValueBox<[SocketAddress: Entry]>([:])

    /// Waits until no other session talks to `address`, then returns a fresh mailbox for it.
    func claim(_ address: SocketAddress) async -> IPMIMailbox {
        let mailbox = IPMIMailbox()
        let claimed = routes.withLockedValue { routes -> Bool in
            guard routes[address] == nil else { return false }
            routes[address] = Entry(mailbox: mailbox)
            return true
        }
        if claimed { return mailbox }
        return await withCheckedContinuation { continuation in
            let immediate = routes.withLockedValue { routes -> Bool in
                if routes[address] == nil {
                    routes[address] = Entry(mailbox: mailbox)
                    return true
                }
                routes[address]?.waiters.append(continuation)
                return false
            }
            if immediate { continuation.resume(returning: mailbox) }
        }
    }

    /// Hands the address to the next waiting session, or frees it.
    func release(_ address: SocketAddress) {
        let handover = routes.withLockedValue { routes -> (CheckedContinuation<IPMIMailbox, Never>, IPMIMailbox)? in
            guard var entry = routes[address] else { return nil }
            guard !entry.waiters.isEmpty else {
                routes[address] = nil
                return nil
            }
            let next = entry.waiters.removeFirst()
            entry.mailbox = IPMIMailbox()
            routes[address] = entry
            return (next, entry.mailbox)
        }
        if let (continuation, mailbox) = handover { continuation.resume(returning: mailbox) }
    }

    /// Delivers a datagram to the session that claimed its sender; drops it if none did.
    func deliver(_ bytes: [UInt8], from address: SocketAddress) {
        let mailbox = routes.withLockedValue { $0[address]?.mailbox }
        mailbox?.deliver(bytes)
    }
}

/// A one-reader queue of datagrams with a deadline-bounded receive.
final class IPMIMailbox: Sendable {
    private struct State {
        var queued: [[UInt8]] = []
        /// The reader waiting, by the id its deadline (`IPMIDeadlines`) carries. A datagram that comes first leaves
        /// the deadline to fire into a mismatched id (a no-op): cancelling an NIO timer is a linear search of the
        /// event loop's timer heap, which with thousands of sessions in flight cost more than the spent timers (a
        /// tenth of the CPU of `reconcile power` over 10,000 BMCs).
        var waiter: (id: UInt64, continuation: CheckedContinuation<[UInt8]?, Never>)?
        var nextID: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    /// Datagrams beyond this many unread ones are dropped (a flooding peer cannot grow memory).
    private static let capacity = 64

    /// Whether a receive is waiting for a datagram (its deadline set).
    var isWaiting: Bool { state.withLockedValue { $0.waiter != nil } }

    func deliver(_ bytes: [UInt8]) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<[UInt8]?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            if state.queued.count < Self.capacity { state.queued.append(bytes) }
            return nil
        }
        waiter?.resume(returning: bytes)
    }

    func receive(until deadline: ContinuousClock.Instant, deadlines: IPMIDeadlines) async -> [UInt8]? {
        let id = state.withLockedValue { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8]?, Never>) in
                let ready = state.withLockedValue { state -> [UInt8]?? in
                    if !state.queued.isEmpty { return .some(state.queued.removeFirst()) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiter = (id, continuation)
                    return .none
                }
                if let ready {
                    continuation.resume(returning: ready)
                    return
                }
                deadlines.expire(self, id: id, at: deadline)
            }
        } onCancel: {
            expire(id)
        }
    }

    func expire(_ id: UInt64) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<[UInt8]?, Never>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: nil)
    }
}

/// The deadlines of the receives waiting on a transport, fired by one event-loop timer per millisecond that has any
/// rather than one timer per receive (each deadline rounded up to the next whole millisecond: never early, at
/// most 1 ms late).
///
/// A 10,000-BMC fan-out waits some 60,000 times; one NIO timer each kept tens of thousands in the event loop's
/// timer heap, whose inserts and removals (retaining and releasing each task they move) were 15% of the CPU time
/// of `reconcile power` (a release build, `perf record`).
final class IPMIDeadlines: Sendable {
    private let eventLoop: any EventLoop
    /// The receives to expire, by the millisecond (of the event loop's clock) their deadline rounds up to.
    private let due = NIOLockedValueBox<[UInt64: [(mailbox: IPMIMailbox, id: UInt64)]]>([:])

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Expires receive `id` of `mailbox` at `deadline` (a no-op then if that receive got its datagram first).
    func expire(_ mailbox: IPMIMailbox, id: UInt64, at deadline: ContinuousClock.Instant) {
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: deadline).components
        let remaining = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let nanoseconds = NIODeadline.now().uptimeNanoseconds + UInt64(remaining)
        let millisecond = (nanoseconds + 999_999) / 1_000_000
        let first = due.withLockedValue { due -> Bool in
            if due[millisecond] != nil {
                due[millisecond]?.append((mailbox, id))
                return false
            }
            due[millisecond] = [(mailbox, id)]
            return true
        }
        guard first else { return }
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(millisecond * 1_000_000)) { [self] in fire(millisecond) }
    }

    private func fire(_ millisecond: UInt64) {
        let expired = due.withLockedValue { $0.removeValue(forKey: millisecond) ?? [] }
        for receive in expired { receive.mailbox.expire(receive.id) }
    }
}

/// Runs Swift tasks on a NIO event loop, so code that talks to a channel stays on the channel's thread.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
