import Foundation

/// Kills the process groups of the test runner's children when the runner dies before it could: a test that timed
/// out, a runner killed by CI's timeout or by a crash.
///
/// Each child `spawnChild` starts leads a process group and is named by a file in a directory of this runner; a
/// small shell started once per runner (in a group of its own, deaf to SIGINT, SIGTERM and SIGHUP) polls the runner
/// and, once it is gone, kills every group still named there. A child that is reaped is forgotten.
public final class ChildWatchdog: @unchecked Sendable {
    /// The runner's watchdog, started on first use.
    public static let shared = ChildWatchdog()

    /// Where the live children are named, one empty file per process group.
    public let directory: String
    private let lock = NSLock()
    private var started = false

    private init() {
        directory = NSTemporaryDirectory() + "rackswarm-children-\(getpid())"
    }

    /// The shell the watchdog runs: `$1` the runner's pid, `$2` the directory.
    public static let script = """
        trap '' INT TERM HUP
        while read -r _ _ state _ < /proc/$1/stat 2>/dev/null && [ "$state" != Z ]; do sleep 1; done
        for group in "$2"/*; do [ -e "$group" ] && kill -KILL -- "-${group##*/}" 2>/dev/null; done
        rm -rf "$2"
        """

    /// Names the process group `pid` leads, starting the watchdog if this is the runner's first child. (A test may
    /// name a group a launcher left running, such as a daemon's.)
    public func watch(_ pid: pid_t) {
        lock.withLock {
            if !started {
                started = true
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                _ = try? spawnProcess("/bin/sh", ["-c", Self.script, "watchdog", "\(getpid())", directory],
                                      environment: [:], stdout: "/dev/null", stderr: nil)
            }
        }
        _ = FileManager.default.createFile(atPath: "\(directory)/\(pid)", contents: nil)
    }

    /// Forgets a child that has been reaped (its pid may be reused).
    public func forget(_ pid: pid_t) {
        try? FileManager.default.removeItem(atPath: "\(directory)/\(pid)")
    }
}

/// Starts a test's child: its own process group, watched by `ChildWatchdog`; see `spawnProcess`.
func spawnChild(_ executable: String, _ arguments: [String], environment: [String: String], stdout: String,
                stderr: String?) throws -> pid_t {
    let pid = try spawnProcess(executable, arguments, environment: environment, stdout: stdout, stderr: stderr)
    ChildWatchdog.shared.watch(pid)
    return pid
}

/// posix_spawn with stdin from /dev/null, stdout into `stdout` (appended) and stderr into `stderr` (or with
/// stdout), no other descriptor, default signal dispositions and an empty mask, `environment` over this process's, and a new process
/// group led by the child.
func spawnProcess(_ executable: String, _ arguments: [String], environment: [String: String], stdout: String,
                  stderr: String?) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if let stderr {
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    } else {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    // Nothing else of the test process: a runner of 100 suites holds hundreds of sockets and files, not all
    // close-on-exec, and PostgreSQL refuses to start when those leave it too few descriptors of its own.
    // (glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module does not declare.)
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
    var merged = ProcessInfo.processInfo.environment
    for (key, value) in environment { merged[key] = value }
    let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in envp { free(pointer) } }
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var child: pid_t = 0
    var spawned = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
    // ETXTBSY: a script written moments ago is still open in a child forked meanwhile; that clears quickly.
    var attempts = 0
    while spawned == ETXTBSY && attempts < 50 {
        attempts += 1
        usleep(20_000)
        spawned = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
    }
    guard spawned == 0 else {
        throw LabError("cannot start \(executable): \(String(cString: strerror(spawned)))")
    }
    return child
}

/// Whether `pid` is a live process: a zombie (dead, not yet reaped by whichever ancestor inherited it) is not.
public func processIsAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
}
