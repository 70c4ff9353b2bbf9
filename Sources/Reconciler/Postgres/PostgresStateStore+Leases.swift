import Foundation
import PostgresNIO
import RackswarmCore
import ReconcilerStore

/// A rack's lease as the shared store holds it.
public struct RackLease: Sendable, Hashable, Codable {
    public var rack: String
    /// The reconciler holding it; nil once released.
    public var holder: String?
    /// Grows by one each time the rack changes hands: a write made under an older token is refused.
    public var token: Int64
    public var expiresAt: Date
}

/// A reconciler that said it is alive, and where its boot server and console answer.
public struct ShardMember: Sendable, Hashable, Codable {
    public var shard: String
    public var address: String?
    public var expiresAt: Date
    /// When its row was first written (a restart that finds its row keeps it; leaving deletes it).
    public var startedAt: Date = .distantPast
}

/// Rack leases and membership: a lease table with a TTL and a fencing token, timed by the server's clock.
extension PostgresStateStore {
    /// Says this shard is alive for `ttl` more seconds (and where it answers); answers the live members, sorted.
    public func heartbeat(address: String?, ttl: Duration) async throws -> [String] {
        try await heartbeatMembers(address: address, ttl: ttl).map(\.shard)
    }

    /// `heartbeat`, answering the live members with their addresses, sorted by shard.
    public func heartbeatMembers(address: String?, ttl: Duration) async throws -> [ShardMember] {
        let shard = try requireShard()
        let seconds = ttl.seconds
        return try await transaction { [self] connection in
            try await connection.query("""
                INSERT INTO reconciler (shard, address, started_at, expires_at)
                VALUES (\(shard), \(address), \(unescaped: Self.serverNow), \(unescaped: Self.serverNow) + \(seconds))
                ON CONFLICT (shard) DO UPDATE SET address = excluded.address, expires_at = excluded.expires_at
                """, logger: self.logger)
            return try await connection.query("""
                SELECT shard, address, expires_at, started_at FROM reconciler
                WHERE expires_at > \(unescaped: Self.serverNow) ORDER BY shard
                """, logger: self.logger).collect().map(Self.member)
        }
    }

    /// Extends every unexpired lease this shard holds by `ttl`; answers them, rack to token. A lease that expired
    /// is not renewed: another reconciler may hold it already.
    public func renewLeases(ttl: Duration) async throws -> [String: Int64] {
        let shard = try requireShard()
        var held: [String: Int64] = [:]
        for row in try await rows("""
            UPDATE rack_lease SET expires_at = \(unescaped: Self.serverNow) + \(ttl.seconds)
            WHERE holder = \(shard) AND expires_at > \(unescaped: Self.serverNow)
            RETURNING rack, token
            """)
        {
            let (rack, token) = try row.decode((String, Int64).self)
            held[rack] = token
        }
        return held
    }

    /// Takes up to `count` of `racks` that nobody holds (never leased, released, or expired), each under a token
    /// one above the rack's last; answers those taken, rack to token. Racks another shard is taking at the same
    /// moment are skipped, not waited for.
    public func acquireLeases(_ racks: [String], upTo count: Int, ttl: Duration) async throws -> [String: Int64] {
        let shard = try requireShard()
        guard count > 0, !racks.isEmpty else { return [:] }
        let now = Self.serverNow
        var taken: [String: Int64] = [:]
        for row in try await rows("""
            WITH free AS (
                SELECT r.rack FROM unnest(\(racks)) AS r(rack)
                LEFT JOIN rack_lease l ON l.rack = r.rack
                WHERE l.rack IS NULL OR l.holder IS NULL OR l.expires_at <= \(unescaped: now)
                ORDER BY r.rack LIMIT \(count)
            )
            INSERT INTO rack_lease (rack, holder, token, expires_at, acquired_at)
            SELECT rack, \(shard), 1, \(unescaped: now) + \(ttl.seconds), \(unescaped: now) FROM free
            ON CONFLICT (rack) DO UPDATE SET holder = excluded.holder, token = rack_lease.token + 1,
                expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
            WHERE rack_lease.holder IS NULL OR rack_lease.expires_at <= \(unescaped: now)
            RETURNING rack, token
            """)
        {
            let (rack, token) = try row.decode((String, Int64).self)
            taken[rack] = token
        }
        return taken
    }

    /// Gives racks back at once (their next holder need not wait for the TTL). The token stays: the next holder's
    /// is one above it.
    public func releaseLeases(_ racks: [String]) async throws {
        let shard = try requireShard()
        guard !racks.isEmpty else { return }
        try await rows("""
            UPDATE rack_lease SET holder = NULL, expires_at = \(unescaped: Self.serverNow)
            WHERE holder = \(shard) AND rack = ANY(\(racks))
            """)
    }

    /// Leaves: releases every lease and the membership, so the others rebalance at their next round.
    public func leave() async throws {
        let shard = try requireShard()
        try await transaction { [self] connection in
            try await connection.query("""
                UPDATE rack_lease SET holder = NULL, expires_at = \(unescaped: Self.serverNow) WHERE holder = \(shard)
                """, logger: self.logger)
            try await connection.query("DELETE FROM reconciler WHERE shard = \(shard)", logger: self.logger)
        }
    }

    /// Every lease, by rack: who holds which rack (status views), expired ones included.
    public func rackLeases() async throws -> [RackLease] {
        try await rows("SELECT rack, holder, token, expires_at FROM rack_lease ORDER BY rack").map { row in
            let (rack, holder, token, expires) = try row.decode((String, String?, Int64, Double).self)
            return RackLease(rack: rack, holder: holder, token: token, expiresAt: Date(timeIntervalSince1970: expires))
        }
    }

    /// Who holds each rack now, by the server's clock (an expired or released lease holds nothing): what
    /// `status`, the console and `/metrics` of any reconciler show.
    public func rackHolders() async throws -> [String: String] {
        var holders: [String: String] = [:]
        for row in try await rows("""
            SELECT rack, holder FROM rack_lease
            WHERE holder IS NOT NULL AND expires_at > \(unescaped: Self.serverNow)
            """)
        {
            let (rack, holder) = try row.decode((String, String).self)
            holders[rack] = holder
        }
        return holders
    }

    /// Where each held rack's nodes are served: rack to the address its holder advertises (`http://HOST:PORT`),
    /// for racks whose holder is alive and published one.
    public func rackServers() async throws -> [String: String] {
        var servers: [String: String] = [:]
        for row in try await rows("""
            SELECT l.rack, m.address FROM rack_lease l JOIN reconciler m ON m.shard = l.holder
            WHERE l.expires_at > \(unescaped: Self.serverNow) AND m.expires_at > \(unescaped: Self.serverNow)
                AND m.address IS NOT NULL
            """)
        {
            let (rack, address) = try row.decode((String, String).self)
            servers[rack] = address
        }
        return servers
    }

    /// The reconcilers alive now, with their addresses.
    public func members() async throws -> [ShardMember] {
        try await rows("""
            SELECT shard, address, expires_at, started_at FROM reconciler
            WHERE expires_at > \(unescaped: Self.serverNow) ORDER BY shard
            """).map(Self.member)
    }

    private static func member(_ row: PostgresRow) throws -> ShardMember {
        let (shard, address, expires, started) = try row.decode((String, String?, Double, Double).self)
        return ShardMember(shard: shard, address: address, expiresAt: Date(timeIntervalSince1970: expires),
                           startedAt: Date(timeIntervalSince1970: started))
    }

    /// The server's clock, in seconds since 1970 (leases are read against it, not against this machine's).
    public func serverTime() async throws -> Date {
        Date(timeIntervalSince1970: try await rows("SELECT \(unescaped: Self.serverNow)").first?.decode(Double.self)
            ?? 0)
    }

    private func requireShard() throws -> String {
        guard let shard else {
            throw StateStoreError(.leaseLost, "this store was opened without a shard id; it holds no leases")
        }
        return shard
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
