import Drivers
import Reconciler
import ReconcilerPostgres
import ServiceLifecycle

extension Convergence {
    /// With leases, the entries a reconciler writes name it and list the other members to fall back on.
    static func bootAddressing(_ keeper: RackLeaseKeeper?) -> (@Sendable () async -> BootAddressing?)? {
        guard let keeper, let server = keeper.address.flatMap(BootServerAddress.init(httpBase:)) else { return nil }
        return { BootAddressing(server: server, fallbacks: await keeper.fallbacks) }
    }
}

/// Rewrites the entries of racks the keeper took (or of all it holds once the members' addresses changed), every
/// third of the lease, apart from the passes (a pass may wait on a long install wave).
struct EntryRewrites: ServiceLifecycle.Service {
    let keeper: RackLeaseKeeper
    let rewriter: BootEntryRewriter
    let addressing: @Sendable () async -> BootAddressing?

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let racks = await keeper.takenRacks()
                if !racks.isEmpty, let addressing = await addressing() {
                    await rewriter.rewrite(racks: racks, addressing: addressing)
                }
                try? await Task.sleep(for: keeper.ttl / 3)
            }
        }
    }
}

/// Renews this reconciler's rack leases while it runs; on shutdown gives them back at once.
struct LeaseRenewal: ServiceLifecycle.Service {
    let keeper: RackLeaseKeeper

    func run() async throws {
        await cancelWhenGracefulShutdown { await keeper.run() }
    }
}
