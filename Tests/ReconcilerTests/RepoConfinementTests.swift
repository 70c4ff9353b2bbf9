import Foundation
import LabSupport
import Reconciler
import Testing

/// A commit cannot reach outside its repo: symlinked YAML, image files outside the repo, devices. Each case runs
/// the real `reconcile validate` on a site laid out on disk, and the loader directly.
struct RepoConfinementTests {
    /// A site from the base fixture with `image.yaml`'s `file:` replaced by `imageFile`.
    static func site(imageFile: String = "images/os.img") throws -> FixtureSite {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("base"))
        let imageYAML = site.directory.appendingPathComponent("image.yaml")
        let text = try String(contentsOf: imageYAML, encoding: .utf8)
            .replacingOccurrences(of: "file: images/os.img", with: "file: \"\(imageFile)\"")
        try text.write(to: imageYAML, atomically: true, encoding: .utf8)
        return site
    }

    @Test(arguments: ["/etc/passwd", "/proc/self/environ"])
    func symlinkedYAMLLeavingTheRepoIsRefusedAndNeverPrinted(target: String) async throws {
        let site = try Self.site()
        try FileManager.default.createSymbolicLink(
            atPath: site.directory.appendingPathComponent("leak.yaml").path, withDestinationPath: target)
        let secret = "RACKSWARM_SECRET_\(UInt32.random(in: 0...UInt32.max))"
        var environment = ProcessInfo.processInfo.environment
        environment["BMC_PASSWORD"] = secret
        let (status, stdout, stderr) = try await runProcess(
            ValidateCommandTests.binary, ["validate", site.directory.path], environment: environment)
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("leak.yaml:0:0: error: cannot read file: 'leak.yaml' resolves outside the repo"),
                "\(stderr)")
        #expect(!stderr.contains(secret))
        #expect(!stderr.contains("root:x:0"))
        #expect(!stderr.contains("PATH="))
    }

    @Test func symlinkInsideTheRepoIsFollowed() throws {
        let site = try Self.site()
        let racks = site.directory.appendingPathComponent("racks")
        try FileManager.default.createDirectory(at: racks, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: site.directory.appendingPathComponent("rack.yaml"),
                                         to: racks.appendingPathComponent("real.yaml"))
        try FileManager.default.createSymbolicLink(
            atPath: site.directory.appendingPathComponent("rack.yml").path, withDestinationPath: "racks/real.yaml")
        // The same documents twice (through the link and directly) are duplicates, which proves both were read.
        let result = SiteLoader.load(path: site.directory.path)
        #expect(result.diagnostics.allSatisfy { !$0.message.contains("outside") })
        #expect(result.files.contains("rack.yml"))
    }

    @Test func fifoNamedYAMLIsRefusedNotWaitedOn() throws {
        let site = try Self.site()
        #expect(mkfifo(site.directory.appendingPathComponent("pipe.yaml").path, 0o600) == 0)
        let result = SiteLoader.load(path: site.directory.path)
        #expect(result.state == nil)
        #expect(result.diagnostics.contains { $0.message.contains("'pipe.yaml' is not a regular file") })
    }

    @Test(arguments: [
        ("../../etc/shadow", "has a '..' component"), ("/etc/shadow", "is an absolute path"),
        ("/dev/zero", "is an absolute path"), ("images/../../x", "has a '..' component"),
    ])
    func imageFileWrittenOutsideTheRepoIsALocatedError(file: String, reason: String) async throws {
        let site = try Self.site(imageFile: file)
        let (status, _, stderr) = try await runProcess(ValidateCommandTests.binary, ["validate", site.directory.path])
        #expect(status == 1)
        #expect(stderr.contains("image.yaml:7:9: error: image file '\(file)' \(reason)"), "\(stderr)")
    }

    @Test(arguments: ["/etc/shadow", "/dev/zero", "/proc/self/environ"])
    func imageFileSymlinkedOutsideTheRepoIsRefused(target: String) async throws {
        let site = try Self.site(imageFile: "images/os.img")
        let images = site.directory.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: images.appendingPathComponent("os.img").path, withDestinationPath: target)
        let started = ContinuousClock.now
        let (status, _, stderr) = try await runProcess(ValidateCommandTests.binary, ["validate", site.directory.path])
        #expect(status == 1)
        #expect(stderr.contains("error: image 'os@1.0' file: 'images/os.img' resolves outside the repo"),
                "\(stderr)")
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func symlinkedDirectoryLeavingTheRepoIsRefused() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data("x".utf8).write(to: outside.appendingPathComponent("os.img"))
        let site = try Self.site(imageFile: "images/os.img")
        try FileManager.default.createSymbolicLink(
            atPath: site.directory.appendingPathComponent("images").path, withDestinationPath: outside.path)
        let result = SiteLoader.load(path: site.directory.path)
        #expect(result.state == nil)
        #expect(result.diagnostics.contains { $0.message.contains("resolves outside the repo") })
    }

    @Test func deviceInsideTheRepoIsRefused() throws {
        // A character device cannot be created without privileges; a FIFO is the same kind of non-file.
        let site = try Self.site(imageFile: "images/os.img")
        let images = site.directory.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        #expect(mkfifo(images.appendingPathComponent("os.img").path, 0o600) == 0)
        let result = SiteLoader.load(path: site.directory.path)
        #expect(result.state == nil)
        #expect(result.diagnostics.contains { $0.message.contains("'images/os.img' is not a regular file") })
    }

    @Test func missingImageFileIsStillValid() throws {
        let site = try Self.site(imageFile: "images/not-yet.img")
        let result = SiteLoader.load(path: site.directory.path)
        #expect(!result.hasErrors, "\(result.diagnostics.map(\.message))")
    }
}
