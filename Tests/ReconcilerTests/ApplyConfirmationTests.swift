import Foundation
import LabSupport
import Testing

/// `reconcile apply` on a real pseudo-terminal, as an operator meets it: a plan with destructive actions is shown
/// and the question asked; `n` applies nothing, `yes` goes on to the pass.
@Suite(.serialized)
struct ApplyConfirmationTests {
    /// The built `reconcile` with standard input, output and error on a fresh pty; what it wrote is read from the
    /// master side.
    final class TerminalSession {
        let master: Int32
        let pid: pid_t
        private(set) var transcript = ""

        init(_ executable: String, _ arguments: [String]) throws {
            var master: Int32 = -1
            var slave: Int32 = -1
            guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw POSIXError(.ENOTTY) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            for descriptor in Int32(0)...2 { posix_spawn_file_actions_adddup2(&actions, slave, descriptor) }
            posix_spawn_file_actions_addclose(&actions, master)
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
            close(slave)
            guard spawned == 0 else {
                close(master)
                throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO)
            }
            self.master = master
            self.pid = pid
        }

        /// Reads until `text` appears or `timeout` passes (or the child closed the terminal).
        @discardableResult
        func read(until text: String, timeout: Duration = .seconds(60)) -> Bool {
            let deadline = ContinuousClock.now + timeout
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !transcript.contains(text), ContinuousClock.now < deadline {
                var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 200) >= 0 else { return false }
                guard poller.revents != 0 else { continue }
                let count = Glibc.read(master, &buffer, buffer.count)
                guard count > 0 else { break }  // EIO: the child closed its side
                transcript += String(decoding: buffer[..<count], as: UTF8.self)
            }
            return transcript.contains(text)
        }

        func type(_ text: String) {
            _ = text.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count - 1) }
        }

        /// Waits for the exit status, killing the child after `timeout`.
        func wait(timeout: Duration = .seconds(30)) -> Int32? {
            let deadline = ContinuousClock.now + timeout
            var status: Int32 = 0
            while ContinuousClock.now < deadline {
                if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xff }
                read(until: "\u{0}", timeout: .milliseconds(100))
            }
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            return nil
        }

        deinit {
            if waitpid(pid, nil, WNOHANG) == 0 {
                kill(pid, SIGKILL)
                waitpid(pid, nil, 0)
            }
            close(master)
        }
    }

    /// The example data center in a temporary directory, with its boot roots and site key there and a free HTTP
    /// port.
    static func site(in directory: TemporaryDirectory) throws -> String {
        let site = directory.path + "/site"
        let key = directory.path + "/site.key"
        try "apply-confirmation-test-key-0123456789\n".write(toFile: key, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Repo.examples.appendingPathComponent("datacenter").path,
                                         toPath: site)
        let file = site + "/site.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(of: "/srv/rackswarm/tftp", with: try directory.subdirectory("tftp"))
            .replacingOccurrences(of: "/srv/rackswarm/http", with: try directory.subdirectory("http"))
            .replacingOccurrences(of: "httpPort: 8080", with: "httpPort: \(try freePort())")
            .replacingOccurrences(of: "/etc/rackswarm/site.key", with: key)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return site
    }

    /// `reconcile apply` on a terminal against a copy of the example site, stopped at its question.
    static func applyAsking(in directory: TemporaryDirectory, _ extra: [String] = []) throws
        -> (session: TerminalSession, state: String) {
        let site = try Self.site(in: directory)
        let state = directory.path + "/state.db"
        let session = try TerminalSession(ValidateCommandTests.binary, [
            "apply", "--repo", site, "--state", state, "--listen", "127.0.0.1", "--log-format", "json",
        ] + extra)
        #expect(session.read(until: "Only 'yes' is accepted: "), "\(session.transcript)")
        return (session, state)
    }

    @Test func answeringNoAppliesNothing() throws {
        let directory = try TemporaryDirectory()
        let (session, state) = try Self.applyAsking(in: directory)
        #expect(session.transcript.contains("destructive actions on 8 nodes"))
        session.type("n\n")
        #expect(session.read(until: "Apply cancelled; nothing was changed."), "\(session.transcript)")
        #expect(session.wait() == 1)
        #expect(!FileManager.default.fileExists(atPath: state), "a refused apply created the state database")
        #expect(!session.transcript.contains("serving boot files"))
    }

    @Test func answeringYesRunsThePass() throws {
        let directory = try TemporaryDirectory()
        let (session, state) = try Self.applyAsking(in: directory, ["--seed-port", "\(try freePort())"])
        session.type("yes\n")
        // The pass starts: the state database is made and the server comes up (the example's BMCs are not
        // reachable from here, so the pass is not waited for).
        #expect(session.read(until: "\"msg\":\"serving boot files"), "\(session.transcript.suffix(2000))")
        #expect(FileManager.default.fileExists(atPath: state))
        #expect(!session.transcript.contains("Apply cancelled"))
    }
}
