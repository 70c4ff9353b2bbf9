import Foundation
import LabSupport
import Testing

/// `scripts/package.sh` (what `make package` runs) on the built binaries, then the packages installed as an operator
/// would: the .debs with dpkg into a fresh root, the .rpm with dnf into an install root.
@Suite(.serialized)
struct PackageInstallTests {
    struct Built {
        var root: String
        var out: String
        var version: String
    }

    /// Packages the built binaries (no build here: `make test` builds them and generate-manual first).
    func package() async throws -> Built {
        let binaries = try #require(builtBinaries, "build reconcile and provision-agent first")
        try #require(FileManager.default.isExecutableFile(atPath: binaries + "/generate-manual"),
                     "build argument-parser's man page generator first: swift build --product generate-manual")
        let root = NSTemporaryDirectory() + "rs-package-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let out = root + "/dist"
        let result = await runCommand("/bin/bash", [packageRoot + "/scripts/package.sh", out],
                                      environment: ["BIN": binaries, "TMPDIR": root, "COMPRESSION": "fast"],
                                      timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        let version = await runCommand(binaries + "/reconcile", ["--version"]).output
            .split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        return Built(root: root, out: out, version: version)
    }

    @Test func theDebsAndTheRPMInstallIntoFreshRootsWithWorkingUnitsAndBinaries() async throws {
        let built = try await package()
        defer { try? FileManager.default.removeItem(atPath: built.root) }
        let arch = await runCommand("/usr/bin/dpkg", ["--print-architecture"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let target = built.root + "/target"
        for directory in ["/var/lib/dpkg/info", "/var/lib/dpkg/updates"] {
            try FileManager.default.createDirectory(atPath: target + directory, withIntermediateDirectories: true)
        }
        _ = FileManager.default.createFile(atPath: target + "/var/lib/dpkg/status", contents: nil)
        for package in ["rackswarm", "rackswarm-agent"] {
            let deb = "\(built.out)/\(package)_\(built.version)_\(arch).deb"
            // The fresh root has no libc package: dependencies are checked by apt on a real machine, not here.
            let installed = await runCommand("/usr/bin/dpkg", [
                "--root=\(target)", "--force-depends", "--force-script-chrootless", "--log=/dev/null", "-i", deb,
            ], timeout: 120)
            #expect(installed.status == 0, "\(package): \(installed.output)")
        }
        let files = [
            "/usr/bin/reconcile", "/usr/bin/provision-agent",
            "/lib/systemd/system/rackswarm-reconciler.service", "/lib/systemd/system/provision-agent.service",
            "/etc/rackswarm/reconciler.yaml", "/usr/share/rackswarm/prometheus/alerts.yaml",
            "/usr/share/rackswarm/grafana/rackswarm.json",
            "/usr/share/man/man1/reconcile.1.gz", "/usr/share/man/man1/reconcile.apply.1.gz",
            "/usr/share/man/man1/reconcile.plan.1.gz", "/usr/share/man/man1/provision-agent.serve.1.gz",
            "/usr/share/bash-completion/completions/reconcile", "/usr/share/zsh/vendor-completions/_reconcile",
            "/usr/share/fish/vendor_completions.d/reconcile.fish",
        ]
        for file in files {
            #expect(FileManager.default.fileExists(atPath: target + file), "\(file) is not installed")
        }
        let status = try String(contentsOfFile: target + "/var/lib/dpkg/status", encoding: .utf8)
        #expect(status.contains("Package: rackswarm\nStatus: install ok installed"), "\(status)")
        #expect(status.contains("Package: rackswarm-agent\nStatus: install ok installed"))
        // The completion scripts complete the subcommands; the man page documents the flags.
        let bash = try String(contentsOfFile: target + "/usr/share/bash-completion/completions/reconcile",
                              encoding: .utf8)
        #expect(bash.contains("plan") && bash.contains("suspend") && bash.contains("--log-format"))
        let man = await runCommand("/bin/sh", ["-c", "gzip -dc '\(target)/usr/share/man/man1/reconcile.apply.1.gz'"])
        #expect(man.output.contains(".It Fl y , -yes"), "\(man.output.prefix(400))")
        // The installed binary runs and names its version.
        let version = await runCommand(target + "/usr/bin/reconcile", ["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("reconcile \(built.version) (commit "),
                "\(version.output)")
        // systemd's own checker accepts both units; their ExecStart points into the installed tree so that
        // the check also finds the installed binaries.
        for unit in ["rackswarm-reconciler.service", "provision-agent.service"] {
            let text = try String(contentsOfFile: target + "/lib/systemd/system/" + unit, encoding: .utf8)
            let copy = built.root + "/" + unit
            try text.replacingOccurrences(of: "=/usr/bin/", with: "=\(target)/usr/bin/")
                .write(toFile: copy, atomically: true, encoding: .utf8)
            let verified = await runCommand("/usr/bin/systemd-analyze", ["verify", "--man=no", copy], timeout: 60)
            #expect(verified.status == 0, "\(unit): \(verified.output)")
            #expect(!verified.output.contains(unit + ":"), "\(unit): \(verified.output)")
        }
        try await theAgentRPMListsItsFilesAndInstallsWithDnf(built)
    }

    /// The agent's RPM (packaged with the debs above).
    func theAgentRPMListsItsFilesAndInstallsWithDnf(_ built: Built) async throws {
        let rpms = try FileManager.default.contentsOfDirectory(atPath: built.out).filter { $0.hasSuffix(".rpm") }
        let rpm = built.out + "/" + (try #require(rpms.first, "no .rpm in \(built.out)"))
        let listed = await runCommand("/usr/bin/rpm", ["-qlp", rpm])
        #expect(listed.status == 0, "\(listed.output)")
        for file in ["/usr/bin/provision-agent", "/lib/systemd/system/provision-agent.service",
                     "/usr/share/man/man1/provision-agent.1.gz"] {
            #expect(listed.output.contains(file + "\n"), "\(file) not in\n\(listed.output)")
        }
        let home = built.root + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try "%_dbpath /var/lib/rpm\n".write(toFile: home + "/.rpmmacros", atomically: true, encoding: .utf8)
        let installRoot = built.root + "/installroot"
        let installed = await runCommand("/usr/bin/dnf", [
            "--installroot=\(installRoot)", "--releasever=1", "--setopt=reposdir=/dev/null", "--nogpgcheck",
            "--disablerepo=*", "-y", "install", rpm,
        ], environment: ["HOME": home], timeout: 180)
        #expect(installed.status == 0, "\(installed.output)")
        let query = await runCommand("/usr/bin/rpm", ["--root", installRoot, "--dbpath", "/var/lib/rpm", "-q",
                                                      "rackswarm-agent"], environment: ["HOME": home])
        #expect(query.status == 0 && query.output.hasPrefix("rackswarm-agent-\(built.version)-1"), "\(query.output)")
        let version = await runCommand(installRoot + "/usr/bin/provision-agent", ["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("provision-agent \(built.version) (commit "),
                "\(version.output)")
    }
}
