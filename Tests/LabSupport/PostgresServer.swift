import Foundation

/// A real PostgreSQL server for tests, from Debian's `postgresql` package: `initdb` in a temporary directory as an
/// unprivileged user (tests may run as root, and PostgreSQL refuses to), password authentication (SCRAM), listening
/// on a free loopback port only. One server per test process, started on first use; each test takes a database of
/// its own (`newDatabase`).
///
/// Teardown does not depend on the tests ending well: a watchdog started with the server stops it and removes its
/// directory once this process is gone, however it ended (a failed expectation, a crash, SIGKILL).
public actor PostgresServer {
    /// Where to reach the server; the password is in `passwordFile` (tests pass it by `file:` reference).
    public struct Endpoint: Sendable {
        public var port: Int
        public var user: String
        public var passwordFile: String
        public var password: String
        /// `postgres://…` for a database, with its password by reference.
        public func url(database: String) -> String {
            "postgres://\(user)@127.0.0.1:\(port)/\(database)?password=file:\(passwordFile)&sslmode=disable"
        }
    }

    public static let shared = PostgresServer()

    private var starting: Task<Endpoint, any Error>?
    private var databases = 0

    /// The binaries of the newest PostgreSQL installed, or nil when the package is missing.
    public static var binaries: String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init)
        guard let newest = versions.max(), FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb")
        else { return nil }
        return "\(root)/\(newest)/bin"
    }

    /// Starts the server once; later calls answer the same endpoint.
    public func endpoint() async throws -> Endpoint {
        if let starting { return try await starting.value }
        // Callers that come while it starts wait for the same start (the actor is reentrant across awaits).
        let task = Task { try await Self.start() }
        starting = task
        return try await task.value
    }

    /// A fresh, empty database on the server; answers its `postgres://` URL.
    public func newDatabase() async throws -> String {
        let endpoint = try await endpoint()
        databases += 1
        let name = "rackswarm_test_\(databases)"
        try await psql(endpoint, "CREATE DATABASE \(name)")
        return endpoint.url(database: name)
    }

    /// Runs one SQL command as the server's superuser, on `database`.
    public func psql(_ endpoint: Endpoint, _ sql: String, database: String = "postgres") async throws {
        guard let bin = Self.binaries else { throw LabError("PostgreSQL is not installed (make setup)") }
        let result = await runCommand("\(bin)/psql", [
            "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(endpoint.port)", "-U", endpoint.user,
            "-d", database, "-c", sql,
        ], environment: ["PGPASSWORD": endpoint.password], timeout: 60)
        guard result.status == 0 else { throw LabError("psql \(sql): \(result.output)") }
    }

    private static func start() async throws -> Endpoint {
        guard let bin = Self.binaries else {
            throw LabError("PostgreSQL is not installed: /usr/lib/postgresql/*/bin/initdb (make setup installs it)")
        }
        let directory = NSTemporaryDirectory() + "rackswarm-pg-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let password = UUID().uuidString
        let passwordFile = directory + "/password"
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile))
        // As root, the server runs as the package's `postgres` user: it owns the directory.
        let asUser: [String]
        if getuid() == 0 {
            guard let account = getpwnam("postgres") else { throw LabError("no 'postgres' user (make setup)") }
            guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0,
                  chown(passwordFile, account.pointee.pw_uid, account.pointee.pw_gid) == 0
            else { throw LabError("chown \(directory): errno \(errno)") }
            asUser = ["/usr/bin/setpriv", "--reuid=\(account.pointee.pw_uid)", "--regid=\(account.pointee.pw_gid)",
                      "--clear-groups", "--"]
        } else {
            asUser = []
        }
        chmod(directory, 0o700)
        startWatchdog(directory: directory)
        let user = "rackswarm"
        let initdb = asUser + [
            "\(bin)/initdb", "-D", directory + "/data", "-U", user, "--auth=scram-sha-256",
            "--pwfile=\(passwordFile)", "-E", "UTF8", "--no-sync", "--no-instructions",
        ]
        let initialised = await runCommand(initdb[0], Array(initdb.dropFirst()), timeout: 120)
        guard initialised.status == 0 else { throw LabError("initdb: \(initialised.output)") }
        let port = try freePort()
        let postgres = asUser + [
            "\(bin)/postgres", "-D", directory + "/data", "-p", "\(port)", "-k", directory,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]
        let server = try LabProcess(postgres[0], Array(postgres.dropFirst()), outputFile: directory + "/server.log")
        let endpoint = Endpoint(port: port, user: user, passwordFile: passwordFile, password: password)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let ready = await runCommand("\(bin)/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(port)"], timeout: 10)
            if ready.status == 0 {
                server.detach()
                return endpoint
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        server.signal()
        throw LabError("PostgreSQL did not come up in 60 s: \(server.output)")
    }

    /// A shell that waits for this process to end, then stops the server (SIGINT: fast shutdown, then SIGKILL)
    /// and removes its directory.
    private static func startWatchdog(directory: String) {
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done
            pid=$(head -1 '\(directory)/data/postmaster.pid' 2>/dev/null)
            if [ -n "$pid" ]; then
              kill -INT "$pid" 2>/dev/null
              for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
              kill -KILL "$pid" 2>/dev/null
            fi
            rm -rf '\(directory)'
            """
        // setsid forks (its child leads a new session, outside the launcher's group) and returns at once; the
        // launcher is detached so that nothing kills its group while the child is still in it.
        (try? LabProcess("/usr/bin/setsid", ["/bin/sh", "-c", script], outputFile: "/dev/null"))?.detach()
    }
}
