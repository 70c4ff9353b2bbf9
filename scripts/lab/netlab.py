"""Helpers shared by the namespace labs (scripts/lab/vdc.py, benchmarks/lab/lab.py): commands that fail loudly,
a host-wide lock (namespace names are global), and killing a namespace's processes before deleting it."""
import fcntl
import os
import signal
import subprocess
import time


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
    """An exclusive flock on PATH, waited for up to `timeout` seconds."""

    def __init__(self, path, timeout=600):
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
                    raise LabError(f"another lab holds {self.path} for over {self.timeout} s")
                time.sleep(0.2)

    def __exit__(self, *exc):
        if self.file:
            self.file.close()
            self.file = None
        return False


def namespaces():
    """Names of the host's network namespaces."""
    return [line.split()[0] for line in sh("ip", "netns", "list", capture=True).splitlines() if line.strip()]


def namespace_pids(name):
    return [int(pid) for pid in sh("ip", "netns", "pids", name, check=False, capture=True).split() if pid.isdigit()]


def kill_namespace(name):
    """SIGKILLs every process in namespace `name` (until none is left, or 5 s), then deletes it."""
    deadline = time.monotonic() + 5
    while True:
        pids = namespace_pids(name)
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    sh("ip", "netns", "delete", name, check=False)


def kill_group(pgid):
    """SIGKILLs a process group; quiet when it is already gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
