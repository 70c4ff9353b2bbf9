import Foundation
import MemberwiseInit
import RackswarmCore

/// Where a shared PostgreSQL state lives: `postgres://USER@HOST:PORT/DATABASE?password=env:NAME`.
///
/// The password is never in the URL: `password=` names where it is (`env:NAME` or `file:PATH`, a
/// `SecretReference`), and a URL with `USER:PASSWORD@` is refused without echoing it. `sslmode=disable`,
/// `prefer` (the default) or `require` chooses TLS.
@PublicMemberwiseInit
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Hashable {
        case disable
        case prefer
        case require
    }

    public var host: String
    public var port: Int = 5432
    public var user: String
    public var database: String
    public var password: SecretReference?
    public var tls: TLSMode = .prefer

    /// True when `--state` names a PostgreSQL server rather than a SQLite file.
    public static func isPostgres(_ state: String) -> Bool {
        state.hasPrefix("postgres://") || state.hasPrefix("postgresql://")
    }

    /// Parses a `postgres://` or `postgresql://` URL.
    public init(parsing text: String) throws(PostgresLocationError) {
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw PostgresLocationError("not a postgres:// URL")
        }
        guard components.password == nil else {
            throw PostgresLocationError(
                "the URL holds a password; give it by reference instead: ?password=env:NAME or ?password=file:PATH")
        }
        guard let host = components.host, !host.isEmpty else { throw PostgresLocationError("the URL names no host") }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresLocationError("the URL names no user (postgres://USER@HOST/DATABASE)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresLocationError("the URL names no database (postgres://USER@HOST/DATABASE)")
        }
        var password: SecretReference?
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "password":
                guard let value = item.value, let reference = SecretReference(parsing: value) else {
                    throw PostgresLocationError("password= takes env:NAME or file:PATH, never the password itself")
                }
                password = reference
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw PostgresLocationError("sslmode= takes disable, prefer or require")
                }
                tls = mode
            default:
                throw PostgresLocationError("unknown parameter '\(item.name)' (known: password, sslmode)")
            }
        }
        self.init(host: host, port: components.port ?? 5432, user: user, database: database, password: password,
                  tls: tls)
    }

    /// The URL as given (it holds no secret).
    public var description: String {
        var query: [String] = []
        if let password { query.append("password=\(password)") }
        if tls != .prefer { query.append("sslmode=\(tls.rawValue)") }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(hostPart):\(port)/\(database)"
            + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }
}

/// A `--state postgres://…` that cannot be used, with why.
public struct PostgresLocationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "--state: \(message)" }
}
