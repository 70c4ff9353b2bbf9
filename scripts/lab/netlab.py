"""The namespace/process library of the labs (scripts/lab/vdc.py, benchmarks/lab/lab.py): one host-wide lock,
commands that fail loudly, and a `Network` that creates namespaces, bridges and veths and starts processes,
recording each as it is made so that `teardown` undoes exactly what the lab made, even after a failure halfway.

Namespace names are global to the host, so every lab takes the same lock (`HostLock()`, LOCK_PATH) around creating
and deleting them. A lab that outlives its process (vdc.py: `up`, then `down` from another run) hands `Network` a
dict it saves; a lab that lives in one process (lab.py) keeps it in memory. A lab's namespaces are named
PREFIX + a letter + anything (`rv1a2b3cc`, `rsb4242n3`), so teardown also finds the ones a killed run made but
could not record, and no lab's prefix catches another's names.

A node kind (a namespace running a script, a VM, ...) builds on these pieces: `add_namespace`, `add_veth` onto a
bridge, `spawn` in a namespace, and `kill_namespace`/`kill_group` for power off.
"""
import fcntl
import os
import re
import signal
import subprocess
import time

LOCK_PATH = "/run/lock/rackswarm-netlab.lock"


class LabError(Exception):
    pass


def sh(*args, check=True, capture=False):
    """Runs a command, raising LabError with its stderr if it fails."""
    result = subprocess.run(list(args), stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout if capture else result.returncode


class HostLock:
    """The labs' host-wide lock: an exclusive flock on `path`, waited for up to `timeout` seconds."""

    def __init__(self, path=LOCK_PATH, timeout=600):
        self.path = path
        self.timeout = timeout
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "a+")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.file.close()
                    self.file = None
                    raise LabError(f"another lab holds {self.path} for over {self.timeout} s")
                time.sleep(0.2)

    def __exit__(self, *exc):
        if self.file:
            self.file.close()
            self.file = None
        return False


# MARK: processes


def spawn(args, log_path=None, namespace=None, pipe=False):
    """Starts `args` (in `namespace` when given) in a session of its own, so its process group is its pid:
    stdin from /dev/null, every other inherited descriptor closed, output to `log_path` (or a text pipe with
    `pipe`, or nowhere)."""
    if namespace:
        args = ["ip", "netns", "exec", namespace] + list(args)
    log = open(log_path, "ab") if log_path else None
    try:
        output = subprocess.PIPE if pipe else (log or subprocess.DEVNULL)
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, text=pipe)
    finally:
        if log:
            log.close()


def process_mentions(pid, *words):
    """Whether process `pid` is alive and its command line contains every word (a recorded pid may belong to an
    unrelated process by now)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            text = file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return all(word in text for word in words)


def kill_group(pgid):
    """SIGKILLs a process group; quiet when it is already gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_pid(pid):
    """SIGKILLs one process; quiet when it is already gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop(popen, grace=3):
    """Stops a child started by `spawn`: SIGTERM to its group, SIGKILL after `grace` seconds, then reaps it."""
    if popen.poll() is not None:
        return
    try:
        os.killpg(popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        popen.wait(grace)
    except subprocess.TimeoutExpired:
        kill_group(popen.pid)
        popen.wait(grace)


# MARK: namespaces


def namespaces():
    """Names of the host's network namespaces."""
    return [line.split()[0] for line in sh("ip", "netns", "list", capture=True).splitlines() if line.strip()]


def namespace_pids(name):
    """Pids of the processes in namespace `name` (none when it does not exist)."""
    return [int(pid) for pid in sh("ip", "netns", "pids", name, check=False, capture=True).split() if pid.isdigit()]


def kill_namespace_processes(name, timeout=5):
    """SIGKILLs every process in namespace `name` until none is left (or `timeout` seconds pass)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = namespace_pids(name)
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            kill_pid(pid)
        time.sleep(0.05)


def kill_namespace(name):
    """Kills every process in namespace `name`, then deletes it; quiet when it does not exist."""
    kill_namespace_processes(name)
    sh("ip", "netns", "delete", name, check=False)


def owned_by(name, prefix):
    """Whether namespace `name` belongs to the lab whose names start with `prefix` (then a letter)."""
    return name.startswith(prefix) and name[len(prefix):][:1].isalpha()


def remove_orphans(tag):
    """Deletes namespaces named TAG<pid><letter>... whose pid no longer runs (labs of a SIGKILLed process).
    Call it holding the lock."""
    pattern = re.compile(rf"^{re.escape(tag)}(\d+)[a-z]")
    for name in namespaces():
        match = pattern.match(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            kill_namespace(name)


class Network:
    """One lab's namespaces, links, symlinks and processes, recorded in `record` as they are made ("namespaces",
    "pids", "links"; `on_change` is called after each so a lab can save it) and undone by `teardown`."""

    def __init__(self, prefix, record=None, on_change=None, owner=None):
        """`owner`: a word in the command line of every process the lab records by pid; a recorded pid without
        it is someone else's by now and is left alone (a child still ours from `spawn` is always stopped)."""
        self.prefix = prefix
        self.record = record if record is not None else {}
        for key in ("namespaces", "pids", "links"):
            self.record.setdefault(key, [])
        self.on_change = on_change or (lambda: None)
        self.owner = owner
        self.children = []

    def _changed(self):
        self.on_change()

    def add_namespace(self, name):
        """Creates namespace `name` (PREFIX + a letter + ...) with its loopback up."""
        if not owned_by(name, self.prefix):
            raise LabError(f"namespace {name} does not start with {self.prefix} and a letter")
        sh("ip", "netns", "add", name)
        self.record["namespaces"].append(name)
        self._changed()
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def add_bridge(self, namespace, name, address=None):
        """A bridge `name` in `namespace`, up, holding `address` (CIDR) when given."""
        sh("ip", "-n", namespace, "link", "add", name, "type", "bridge")
        if address:
            sh("ip", "-n", namespace, "addr", "add", address, "dev", name)
        sh("ip", "-n", namespace, "link", "set", name, "up")

    def add_veth(self, namespace, port, peer_namespace=None, peer="eth0", bridge=None, mac=None, address=None):
        """A veth pair: `port` in `namespace` (enslaved to `bridge` when given, and up), `peer` in
        `peer_namespace` (or also in `namespace`) with `mac` and `address` (CIDR, broadcast set) when given, up."""
        peer_namespace = peer_namespace or namespace
        sh("ip", "-n", namespace, "link", "add", port, "type", "veth", "peer", "name", peer, "netns", peer_namespace)
        if mac:
            sh("ip", "-n", peer_namespace, "link", "set", peer, "address", mac)
        if address:
            sh("ip", "-n", peer_namespace, "addr", "add", address, "brd", "+", "dev", peer)
        sh("ip", "-n", peer_namespace, "link", "set", peer, "up")
        if bridge:
            sh("ip", "-n", namespace, "link", "set", port, "master", bridge, "up")
        else:
            sh("ip", "-n", namespace, "link", "set", port, "up")

    def add_address(self, namespace, address, device="lo"):
        """Adds `address` (CIDR) to `device` in `namespace`; quiet when it is there already."""
        sh("ip", "-n", namespace, "addr", "add", address, "dev", device, check=False)

    def shape(self, namespace, device, mbit):
        """Caps what `device` in `namespace` sends at `mbit` (tbf shapes egress only). A large burst keeps tbf from
        splitting every veth packet in software."""
        sh("ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root", "tbf", "rate",
           f"{mbit}mbit", "burst", "640kbit", "latency", "50ms")

    def add_symlink(self, target, path):
        """A symlink at `path` to `target`, removed by teardown; nothing when `path` exists already."""
        if os.path.lexists(path):
            return
        os.symlink(target, path)
        self.record["links"].append(path)
        self._changed()

    def spawn(self, args, log_path=None, namespace=None, pipe=False):
        """`spawn` whose process teardown stops (by its pid and process group)."""
        popen = spawn(args, log_path, namespace, pipe)
        self.children.append(popen)
        self.record_pid(popen.pid)
        return popen

    def record_pid(self, pid):
        """Records a process the lab started some other way (a daemon that printed its pid)."""
        self.record["pids"].append(pid)
        self._changed()

    def teardown(self):
        """Kills the lab's processes, removes its symlinks, then deletes its namespaces, newest first (and any of its
        prefix a killed run made but did not record), with every process in them. Safe to run again."""
        children = {popen.pid for popen in self.children}
        for popen in self.children:
            if popen.poll() is None:
                kill_group(popen.pid)
                kill_pid(popen.pid)
                try:
                    popen.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.children = []
        for pid in self.record["pids"]:
            if pid not in children and self.owner and process_mentions(pid, self.owner):
                kill_group(pid)
                kill_pid(pid)
        for link in self.record["links"]:
            if os.path.islink(link):
                os.unlink(link)
        recorded = list(reversed(self.record["namespaces"]))
        # Unrecorded ones in reverse name order: nodes (n…) before a core (c) or bridge (b) namespace.
        unrecorded = sorted((name for name in namespaces() if owned_by(name, self.prefix) and name not in recorded),
                            reverse=True)
        for name in unrecorded + recorded:
            kill_namespace(name)
        for key in ("namespaces", "pids", "links"):
            self.record[key] = []
        self._changed()
