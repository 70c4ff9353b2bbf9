import Foundation
import Installer
import LabSupport
import Testing

/// The agent the installed system runs comes from the install environment, not the image: `installAgent` copies
/// the installer's own binary into the written root when the image ships `provision-agent.service`, replacing any
/// agent the image carried, and leaves roots without the unit alone.
struct InstalledAgentTests {
    static let unit = "[Service]\nExecStart=/usr/local/bin/provision-agent serve\n"

    @Test func theInstallersAgentReplacesTheImagesAndIsExecutable() throws {
        let directory = try TemporaryDirectory()
        let binary = Data("#!/bin/sh\necho installer agent\n".utf8)
        try directory.write("installer/provision-agent", binary)
        try directory.write("root/etc/systemd/system/provision-agent.service", Data(Self.unit.utf8))
        try directory.write("root/usr/local/bin/provision-agent", Data("an older agent".utf8))
        let root = directory.path + "/root"

        #expect(try InstalledRoot.installAgent(from: directory.path + "/installer/provision-agent", root: root))
        let installed = root + InstalledRoot.agentPath
        #expect(FileManager.default.contents(atPath: installed) == binary)
        let mode = try FileManager.default.attributesOfItem(atPath: installed)[.posixPermissions] as? Int
        #expect(mode == 0o755)
        let run = try runProcess(installed, [])
        #expect(run.status == 0 && run.stdout == "installer agent\n", "\(run.status): \(run.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: root + "/usr/local/bin")
        #expect(left == ["provision-agent"], "no staging file stays behind: \(left)")
    }

    @Test func aRootWithoutTheUnitGetsNoAgent() throws {
        let directory = try TemporaryDirectory()
        try directory.write("installer/provision-agent", Data("agent".utf8))
        let root = try directory.subdirectory("root")

        #expect(try !InstalledRoot.installAgent(from: directory.path + "/installer/provision-agent", root: root))
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/local"))
    }

    @Test func aMissingBinaryIsAFailedPostActionNamingBothPaths() throws {
        let directory = try TemporaryDirectory()
        try directory.write("root/etc/systemd/system/provision-agent.service", Data(Self.unit.utf8))
        let root = directory.path + "/root"
        let missing = directory.path + "/installer/provision-agent"

        let error = #expect(throws: InstallError.self) { try InstalledRoot.installAgent(from: missing, root: root) }
        #expect(error?.detail.hasPrefix("post action 'agent-binary' failed: copying \(missing) to "
                                         + "\(root)/usr/local/bin/provision-agent: ") == true,
                "\(error?.detail ?? "")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/usr/local/bin") == [])
    }
}
