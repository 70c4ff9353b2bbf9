import Foundation
import LabSupport
import Testing

/// `scripts/package.sh` (what `make package` runs) on the built binaries, then the packages installed as an operator
/// would: the .debs with apt into a fresh Debian 12 root (debootstrap), the .rpm with dnf into an install root.
@Suite(.serialized)
struct PackageInstallTests {
    struct Built {
        var root: String
        var out: String
        var version: String
        /// Packages given by `RACKSWARM_PACKAGES` (a release build) rather than made here from the debug build.
        var given: Bool
    }

    /// Packages the built binaries (no build here: `make test` builds them and generate-manual first). With
    /// `RACKSWARM_PACKAGES=DIR`, checks the packages already in DIR instead, such as a release `make package`'s
    /// dist/ (which must then carry no Swift runtime dependency: see `provideSwiftRuntime`).
    func package() async throws -> Built {
        let root = NSTemporaryDirectory() + "rs-package-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if let given = ProcessInfo.processInfo.environment["RACKSWARM_PACKAGES"] {
            let debs = try FileManager.default.contentsOfDirectory(atPath: given)
                .filter { $0.hasPrefix("rackswarm_") && $0.hasSuffix(".deb") }
            let deb = try #require(debs.sorted().last, "no rackswarm_*.deb in \(given)")
            let version = await runCommand("/usr/bin/dpkg-deb", ["-f", given + "/" + deb, "Version"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return Built(root: root, out: given, version: version, given: true)
        }
        let binaries = try #require(builtBinaries, "build reconcile and provision-agent first")
        try #require(FileManager.default.isExecutableFile(atPath: binaries + "/generate-manual"),
                     "build argument-parser's man page generator first: swift build --product generate-manual")
        let out = root + "/dist"
        let result = await runCommand("/bin/bash", [packageRoot + "/scripts/package.sh", out],
                                      environment: ["BIN": binaries, "TMPDIR": root, "COMPRESSION": "fast"],
                                      timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        let version = await runCommand(binaries + "/reconcile", ["--version"]).output
            .split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        return Built(root: root, out: out, version: version, given: false)
    }

    /// The Debian 12 root `make image` bootstrapped (debootstrap, cached as a tar under build/image; `make test`
    /// builds the image before the tests): the newest one.
    static func debootstrapRoot() throws -> String {
        let directory = packageRoot + "/build/image"
        let tars = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("debootstrap-") && $0.hasSuffix(".tar") }
            .map { directory + "/" + $0 }
        let dated = tars.map { path in
            (path, (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil)
        }
        let newest = dated.max { ($0.1 ?? .distantPast) < ($1.1 ?? .distantPast) }?.0
        return try #require(newest, "no debootstrap root in \(directory): run make image (make test does)")
    }

    /// Runs `script` with /bin/sh inside `root`, in its own mount and PID namespaces with /proc mounted (Swift
    /// reads its arguments from /proc/self/cmdline); the mount goes away with the namespace.
    static func inRoot(_ root: String, _ script: String, timeout: Double = 60) async -> LabCommandResult {
        await runCommand("/usr/bin/unshare", [
            "--mount", "--pid", "--fork", "/usr/sbin/chroot", root, "/bin/sh", "-c",
            "mount -t proc proc /proc && cd /tmp && \(script)",
        ], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"],
           timeout: timeout)
    }

    /// What an operator does: `apt install ./rackswarm_*.deb ./rackswarm-agent_*.deb` on a fresh Debian 12, which
    /// resolves the packages' dependencies from the Debian mirror the root was bootstrapped from (no forcing).
    @Test func theDebsInstallWithAptIntoAFreshDebianRootWithWorkingUnitsAndBinaries() async throws {
        let built = try await package()
        defer { try? FileManager.default.removeItem(atPath: built.root) }
        if built.given { print("checking the packages in \(built.out), version \(built.version)") }
        let arch = await runCommand("/usr/bin/dpkg", ["--print-architecture"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let target = built.root + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let unpacked = await runCommand("/usr/bin/tar", ["-C", target, "-xf", try Self.debootstrapRoot()],
                                        timeout: 300)
        try #require(unpacked.status == 0, "\(unpacked.output)")
        try FileManager.default.removeItem(atPath: target + "/etc/resolv.conf")
        try FileManager.default.copyItem(atPath: "/etc/resolv.conf", toPath: target + "/etc/resolv.conf")
        let debs = ["rackswarm", "rackswarm-agent"].map { "\($0)_\(built.version)_\(arch).deb" }
        for deb in debs {
            try FileManager.default.copyItem(atPath: built.out + "/" + deb, toPath: target + "/tmp/" + deb)
        }
        let apt = "apt-get -q -o Acquire::Languages=none"
        let installed = await Self.inRoot(target, """
            \(apt) update && \(apt) install -y --no-install-recommends \(debs.map { "./" + $0 }.joined(separator: " "))
            """, timeout: 600)
        try #require(installed.status == 0, "apt install: \(installed.output)")
        // apt fetched what the packages depend on (libgit2, git): the Depends lines name real Debian packages.
        #expect(installed.output.contains("Setting up libgit2-1.5"), "\(installed.output)")
        let states = await Self.inRoot(target, "dpkg-query -W -f='${Package} ${Status}\\n' rackswarm rackswarm-agent")
        #expect(states.output.contains("rackswarm install ok installed\n"), "\(states.output)")
        #expect(states.output.contains("rackswarm-agent install ok installed\n"), "\(states.output)")
        let files = [
            "/usr/bin/reconcile", "/usr/bin/provision-agent",
            "/lib/systemd/system/rackswarm-reconciler.service", "/lib/systemd/system/provision-agent.service",
            "/etc/rackswarm/reconciler.yaml", "/usr/share/rackswarm/prometheus/alerts.yaml",
            "/usr/share/rackswarm/grafana/rackswarm.json",
            "/usr/share/man/man1/reconcile.1.gz", "/usr/share/man/man1/reconcile-apply.1.gz",
            "/usr/share/man/man1/reconcile-plan.1.gz", "/usr/share/man/man1/provision-agent-serve.1.gz",
            "/usr/share/bash-completion/completions/reconcile", "/usr/share/zsh/vendor-completions/_reconcile",
            "/usr/share/fish/vendor_completions.d/reconcile.fish",
        ]
        for file in files {
            #expect(FileManager.default.fileExists(atPath: target + file), "\(file) is not installed")
        }
        let conffiles = await Self.inRoot(target, "dpkg-query -W -f='${Conffiles}' rackswarm")
        #expect(conffiles.output.contains("/etc/rackswarm/reconciler.yaml"), "\(conffiles.output)")
        // The completion scripts complete the subcommands; the man page documents the flags.
        let bash = try String(contentsOfFile: target + "/usr/share/bash-completion/completions/reconcile",
                              encoding: .utf8)
        #expect(bash.contains("plan") && bash.contains("suspend") && bash.contains("--log-format"))
        let man = await runCommand("/bin/sh", ["-c", "gzip -dc '\(target)/usr/share/man/man1/reconcile-apply.1.gz'"])
        #expect(man.output.contains(".It Fl y , -yes"), "\(man.output.prefix(400))")
        try await Self.provideSwiftRuntime(in: target, allowed: !built.given)
        // The installed binaries run from their installed path and name their version.
        let versions = await Self.inRoot(target, "/usr/bin/reconcile --version && /usr/bin/provision-agent --version")
        #expect(versions.status == 0, "\(versions.output)")
        #expect(versions.output.contains("reconcile \(built.version) (commit "), "\(versions.output)")
        #expect(versions.output.contains("provision-agent \(built.version) (commit "), "\(versions.output)")
        // The settings file at its installed path is read without RACKSWARM_CONFIG; the environment beats it.
        try "state: /from/etc.db\n".write(toFile: target + "/etc/rackswarm/reconciler.yaml", atomically: true,
                                           encoding: .utf8)
        let fromFile = await Self.inRoot(target, "/usr/bin/reconcile plan --help")
        #expect(fromFile.output.contains("(default: /from/etc.db)"), "\(fromFile.output)")
        let fromEnvironment = await Self.inRoot(target, "RACKSWARM_STATE=/from/env.db /usr/bin/reconcile plan --help")
        #expect(fromEnvironment.output.contains("(default: /from/env.db)"), "\(fromEnvironment.output)")
        // Every man page a unit's Documentation= names is installed (`man reconcile-apply`).
        for unit in ["rackswarm-reconciler.service", "provision-agent.service"] {
            let text = try String(contentsOfFile: target + "/lib/systemd/system/" + unit, encoding: .utf8)
            let pages = text.matches(of: /man:([a-z.-]+)\(1\)/).map { String($0.output.1) }
            #expect(!pages.isEmpty, "\(unit) names no man page")
            for page in pages {
                #expect(FileManager.default.fileExists(atPath: target + "/usr/share/man/man1/\(page).1.gz"),
                        "\(unit): Documentation=man:\(page)(1) is not installed")
            }
        }
        // systemd's own checker, in the installed root: unit syntax, and that ExecStart's binary is there.
        let units = ["rackswarm-reconciler.service", "provision-agent.service"].map { "/lib/systemd/system/" + $0 }
        let verified = await runCommand("/usr/bin/systemd-analyze",
                                        ["verify", "--man=no", "--root=\(target)"] + units, timeout: 60)
        #expect(verified.status == 0, "\(verified.output)")
        #expect(!verified.output.contains(".service"), "\(verified.output)")
        try await theAgentRPMListsItsFilesAndInstallsWithDnf(built)
    }

    /// A debug build (what the tests package) loads the Swift runtime from the toolchain, which a Debian root
    /// does not have: copies exactly those libraries in, after checking that every other library the binaries
    /// load came with the packages' dependencies. A release package (`make package`) links the runtime
    /// statically: with `allowed` false, any library missing from the root, Swift's included, is a failure.
    static func provideSwiftRuntime(in target: String, allowed: Bool) async throws {
        for binary in ["/usr/bin/reconcile", "/usr/bin/provision-agent"] {
            let inside = await inRoot(target, "ldd \(binary)")
            if !allowed {
                #expect(inside.status == 0, "ldd \(binary): \(inside.output)")
                #expect(!inside.output.contains("not found") && !inside.output.contains("libswift")
                        && !inside.output.contains("Foundation"),
                        "\(binary) needs a library the packages do not bring:\n\(inside.output)")
                continue
            }
            let host = await runCommand("/usr/bin/ldd", [target + binary])
            let words: (Substring) -> [String] = { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
            for line in inside.output.split(separator: "\n") where line.contains("not found") {
                let library = words(line).first ?? ""
                let resolved = host.output.split(separator: "\n").map(words)
                    .first { $0.first == library && $0.count > 2 }?[2]
                let path = try #require(resolved, "\(binary): \(library) not found in the root nor on this host")
                let isSwiftRuntime = ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"]
                    .contains { library.hasPrefix($0) }
                #expect(isSwiftRuntime, "\(binary): \(library) is missing from the packages' dependencies")
                guard isSwiftRuntime, !FileManager.default.fileExists(atPath: target + path) else { continue }
                try FileManager.default.createDirectory(atPath: target + (path as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: path, toPath: target + path)
            }
        }
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
