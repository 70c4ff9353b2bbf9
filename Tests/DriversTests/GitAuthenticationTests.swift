import Drivers
import GitDriver
import Foundation
import LabSupport
import Testing

/// Token credentials against a real smart-HTTP git server (git-http-backend behind basic auth).
struct GitAuthenticationTests {
    final class AuthServer {
        let process: LabProcess
        let port: Int

        /// Starts the server and waits (up to 30 s) for the port it prints first.
        init(projectRoot: String, user: String, token: String) throws {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Support/git_http_server.py").path
            let log = projectRoot + "-http.log"
            process = try LabProcess("/usr/bin/python3", [script, projectRoot, user, token], outputFile: log)
            var port: Int?
            for _ in 0..<600 where port == nil && process.isRunning {
                port = process.output.split(separator: "\n").compactMap { Int($0) }.first
                if port == nil { usleep(50_000) }
            }
            guard let port else {
                process.stop()
                throw LabError("git_http_server.py printed no port: \(process.output)")
            }
            self.port = port
        }

        deinit {
            process.stop()
        }
    }

    @Test func tokenFromEnvironmentAndFileAndRefusals() async throws {
        let repo = try await GitTestRepo()
        let head = try await repo.commit("site", files: ["site.yaml": "kind: Site\n"])
        // Serve a bare copy, as a forge would.
        let bare = repo.root.appendingPathComponent("served/site.git").path
        let clone = try await runGit(["clone", "-q", "--bare", repo.path, bare])
        try #require(clone == 0)
        let server = try AuthServer(projectRoot: repo.root.appendingPathComponent("served").path,
                                    user: "deploy", token: "s3cret-token")
        let url = "http://127.0.0.1:\(server.port)/site.git"

        let tokenFile = repo.root.appendingPathComponent("token").path
        try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let good = GitSource(url: url, cacheRoot: repo.cacheRoot + "-file",
                             credentials: .token(username: "deploy", token: .file(tokenFile)))
        #expect(try good.sync(ref: "main").commit == head)

        setenv("RACKSWARM_TEST_GIT_TOKEN", "wrong-token", 1)
        defer { unsetenv("RACKSWARM_TEST_GIT_TOKEN") }
        let wrong = GitSource(url: url, cacheRoot: repo.cacheRoot + "-wrong",
                              credentials: .token(username: "deploy", token: .environment("RACKSWARM_TEST_GIT_TOKEN")))
        #expect(throws: GitError.self) { try wrong.sync(ref: "main") }
        do { _ = try wrong.sync(ref: "main") } catch {
            #expect(error.code == .authentication)
            #expect(!error.description.contains("wrong-token"), "secrets never appear in errors")
        }

        let none = GitSource(url: url, cacheRoot: repo.cacheRoot + "-none")
        do {
            _ = try none.sync(ref: "main")
            Issue.record("expected an authentication error")
        } catch {
            #expect(error.code == .authentication)
        }

        let missing = GitSource(url: url, cacheRoot: repo.cacheRoot + "-missing",
                                credentials: .token(username: "deploy", token: .environment("RACKSWARM_NO_SUCH_VAR")))
        do {
            _ = try missing.sync(ref: "main")
            Issue.record("expected a credentials error")
        } catch {
            #expect(error.code == .credentials)
        }
    }

    private func runGit(_ arguments: [String]) async throws -> Int32 {
        try await runProcess("/usr/bin/git", arguments).status
    }
}
