import Drivers
import GitDriver
import Foundation
import Testing

/// The git source against real repositories made by the git CLI.
struct GitSourceTests {
    func read(_ checkout: GitCheckout, _ file: String) throws -> String {
        try String(contentsOfFile: checkout.directory + "/" + file, encoding: .utf8)
    }

    @Test func clonesThenFetchesNewCommits() async throws {
        let repo = try await GitTestRepo()
        let first = try await repo.commit("first", files: ["site.yaml": "one\n"])
        let source = GitSource(url: repo.path, cacheRoot: repo.cacheRoot)
        let checkout = try source.sync(ref: "main")
        #expect(checkout.commit == first)
        #expect(checkout.summary == "first")
        #expect(checkout.author == "Test Operator <ops@example.net>")
        #expect(try read(checkout, "site.yaml") == "one\n")

        let second = try await repo.commit("second", files: ["site.yaml": "two\n", "racks/r1.yaml": "r1\n"])
        let again = try GitSource(url: repo.path, cacheRoot: repo.cacheRoot).sync(ref: "main")
        #expect(again.commit == second)
        #expect(again.directory == checkout.directory, "the cache is reused, not cloned again")
        #expect(try read(again, "racks/r1.yaml") == "r1\n")
    }

    @Test func resolvesTagsBranchesAndCommits() async throws {
        let repo = try await GitTestRepo()
        let tagged = try await repo.commit("v1", files: ["a": "1"])
        try await repo.git("tag", "-a", "v1", "-m", "release 1")
        try await repo.git("checkout", "-q", "-b", "staging")
        let staging = try await repo.commit("staging work", files: ["a": "2"])
        try await repo.git("checkout", "-q", "main")
        let source = GitSource(url: "file://" + repo.path, cacheRoot: repo.cacheRoot)
        #expect(try source.sync(ref: "v1").commit == tagged)
        #expect(try source.sync(ref: "staging").commit == staging)
        #expect(try source.sync(ref: String(tagged.prefix(10))).commit == tagged)
        #expect(try read(try source.sync(ref: "staging"), "a") == "2")
    }

    @Test func followsForcePushes() async throws {
        let repo = try await GitTestRepo()
        try await repo.commit("base", files: ["a": "base"])
        try await repo.commit("bad change", files: ["a": "bad"])
        let source = GitSource(url: repo.path, cacheRoot: repo.cacheRoot)
        #expect(try read(try source.sync(ref: "main"), "a") == "bad")
        try await repo.git("reset", "-q", "--hard", "HEAD~1")
        let rewritten = try await repo.commit("good change", files: ["a": "good", "b": "new"])
        let checkout = try source.sync(ref: "main")
        #expect(checkout.commit == rewritten)
        #expect(try read(checkout, "a") == "good")
    }

    @Test func removesFilesDeletedUpstream() async throws {
        let repo = try await GitTestRepo()
        try await repo.commit("two files", files: ["keep.yaml": "k", "gone.yaml": "g"])
        let source = GitSource(url: repo.path, cacheRoot: repo.cacheRoot)
        _ = try source.sync(ref: "main")
        try await repo.git("rm", "-q", "gone.yaml")
        try await repo.git("commit", "-q", "-m", "remove")
        let checkout = try source.sync(ref: "main")
        #expect(!FileManager.default.fileExists(atPath: checkout.directory + "/gone.yaml"))
    }

    @Test func unknownRefIsTyped() async throws {
        let repo = try await GitTestRepo()
        try await repo.commit("base", files: ["a": "1"])
        let source = GitSource(url: repo.path, cacheRoot: repo.cacheRoot)
        #expect(throws: GitError.self) { try source.sync(ref: "no-such-branch") }
        do {
            _ = try source.sync(ref: "no-such-branch")
        } catch {
            #expect(error.code == .unknownRef)
        }
    }

    @Test func unreachableRemoteIsTyped() async throws {
        let repo = try await GitTestRepo()
        let source = GitSource(url: repo.root.appendingPathComponent("missing").path, cacheRoot: repo.cacheRoot)
        do {
            _ = try source.sync(ref: "main")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unreachable, "\(error)")
        }
    }

    @Test func corruptCacheIsClonedAgain() async throws {
        let repo = try await GitTestRepo()
        let head = try await repo.commit("base", files: ["a": "1"])
        let source = GitSource(url: repo.path, cacheRoot: repo.cacheRoot)
        let checkout = try source.sync(ref: "main")
        // Damage the cached clone: its HEAD and object store.
        try "garbage".write(toFile: checkout.directory + "/.git/HEAD", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: checkout.directory + "/.git/objects")
        let recovered = try source.sync(ref: "main")
        #expect(recovered.commit == head)
        #expect(try read(recovered, "a") == "1")
    }
}
