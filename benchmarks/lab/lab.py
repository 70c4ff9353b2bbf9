"""Distribution lab: 1 seed + N nodes, each a network namespace on one bridge, every link capped by tbf both ways.

Runs one image to the first n nodes with each method, for each n, and writes one JSON document:
  waves       rackswarm (reconcile seed + tracker, provision-agent fetch), rack-aware, per rack `first_wave` nodes
              first and the rest of the rack once they are verified (what the reconciler's executor does);
  flat        rackswarm as one flat swarm, every node at once, no racks;
  libtorrent  Debian's python3-libtorrent seed and leechers, same .torrent (same piece size), fixed-list tracker;
  http        one `python3 -m http.server` in the seed namespace, curl in every node (the paper's FTP case);
  udpcast     udp-sender / udp-receiver multicast (if installed).
Every copy is compared byte for byte with the source after every run. The lab is always torn down: processes are
killed by PID (their process groups), namespaces deleted by name, and a lock keeps two labs from touching each
other's names (scripts/lab/netlab.py, shared with the virtual data center). Namespace names are rsb<PID>s (seed), rsb<PID>n<i> (nodes), rsb<PID>b (the bridge).

With --churn P, a seeded random share P of the leechers is SIGKILLed at random times mid-transfer; --churn-return Q
of those come back after --churn-delay seconds on the same output file and resume from the pieces they find verified
on it. Only the survivors must finish; each record's `churn` holds what happened to every killed node and the
survivors' bound (benchmarks/README.md, "Churn").

Usage: lab.py --bin DIR --work DIR --out FILE.json [--nodes 1,2,4] [--methods waves,flat,...] [options]
Needs root, iproute2 (ip, tc), curl; /usr/bin/python3 with libtorrent for the libtorrent method.
"""
import argparse
import filecmp
import json
import os
import re
import shutil
import signal
import sys
import threading
import time

SUBNET = "10.231.0"
BT_PORT = 6881
TRACKER_PORT = 6969
LT_TRACKER_PORT = 6970
HTTP_PORT = 8080
LT_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "lab"))
from netlab import HostLock, LabError, Network, remove_orphans, sh, stop  # noqa: E402


def cpu_times():
    """(busy, total) jiffies from the first line of /proc/stat (iowait counted idle, steal counted busy)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq + steal, sum(fields)


class Proc:
    """One process started in a namespace, its output copied to a log, the time of a marker line recorded."""

    def __init__(self, lab, ns, args, log, marker=None, early=None):
        self.log_path = log
        self.marker = marker
        self.marker_time = None
        self.early = early
        self.early_time = None
        self.lines = []
        self.exit_time = None
        self.started = time.monotonic()
        self.popen = lab.net.spawn(args, namespace=ns, pipe=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with open(self.log_path, "w") as log:
            for line in self.popen.stdout:
                now = time.monotonic()
                log.write(f"{now - self.started:.3f} {line}")
                self.lines.append(line.rstrip("\n"))
                if self.marker and self.marker_time is None and self.marker in line:
                    self.marker_time = now
                if self.early and self.early_time is None and self.early in line:
                    self.early_time = now

    def wait_marker(self, timeout):
        deadline = time.monotonic() + timeout
        while self.marker_time is None:
            if self.popen.poll() is not None:
                self.thread.join(1)
                if self.marker_time is not None:
                    break
                raise LabError(f"{self.log_path}: exited {self.popen.returncode} before '{self.marker}': "
                               + " | ".join(self.lines[-5:]))
            if time.monotonic() > deadline:
                raise LabError(f"{self.log_path}: no '{self.marker}' in {timeout} s: " + " | ".join(self.lines[-5:]))
            time.sleep(0.02)
        return self.marker_time

    def done_time(self):
        """When the node finished: its marker line if it has one, else a clean exit; raises if it failed."""
        if self.marker:
            if self.marker_time is not None:
                return self.marker_time
            code = self.popen.poll()
            if code is not None:
                self.thread.join(1)
                if self.marker_time is None:
                    raise LabError(f"{self.log_path}: exited {code}: " + " | ".join(self.lines[-5:]))
            return self.marker_time
        code = self.popen.poll()
        if code is None:
            return None
        if self.exit_time is None:
            self.exit_time = time.monotonic()
        if code != 0:
            self.thread.join(1)
            raise LabError(f"{self.log_path}: exited {code}: " + " | ".join(self.lines[-5:]))
        return self.exit_time

    def cpu_seconds(self):
        """User + system CPU seconds of the process so far (None once it is reaped); `ip netns exec` execs the
        program, so the pid is the program's own."""
        try:
            with open(f"/proc/{self.popen.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def last_verified_fraction(self):
        """The share of the file the last progress line (`12.3% …`) reported verified, 0 before the first one."""
        for line in reversed(self.lines):
            match = PROGRESS_LINE.match(line)
            if match:
                return float(match.group(1)) / 100
        return 0.0

    def stop(self):
        stop(self.popen)
        self.thread.join(2)


class Lab:
    """The namespaces, bridge and shaped links; a context manager that always tears them down."""

    def __init__(self, nodes, node_mbit, seed_mbit, work, lock_timeout=600, rack_size=0, uplink_mbit=0):
        self.nodes = nodes
        self.rack_size = rack_size
        self.uplink_mbit = uplink_mbit
        self.node_mbit = node_mbit
        self.seed_mbit = seed_mbit
        self.work = work
        self.prefix = f"rsb{os.getpid()}"
        self.bridge_ns = self.prefix + "b"
        self.seed_ns = self.prefix + "s"
        self.net = Network(self.prefix)
        self.procs = []
        self.lock_timeout = lock_timeout
        self.lock = None

    def node_ns(self, i):
        return f"{self.prefix}n{i}"

    def ip(self, i):
        """Address of node i (1-based); 0 is the seed."""
        return f"{SUBNET}.{i + 1}"

    def __enter__(self):
        # The lock is held for the whole run: no other lab changes namespaces or loads the host meanwhile.
        self.lock = HostLock(timeout=self.lock_timeout).__enter__()
        try:
            remove_orphans("rsb")
            self._build()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    @property
    def created(self):
        """The lab's namespaces, oldest first."""
        return self.net.record["namespaces"]

    @property
    def pids(self):
        """Every process the lab started."""
        return self.net.record["pids"]

    def _build(self):
        os.makedirs(self.work, exist_ok=True)
        net = self.net
        net.add_namespace(self.bridge_ns)
        net.add_bridge(self.bridge_ns, "br0")
        # With an uplink cap, each rack gets its own bridge joined to br0 (the core) by a veth capped both ways;
        # the seed stays on the core, so everything it sends crosses an uplink too.
        rack_bridge = {}
        if self.uplink_mbit:
            for k, rack in enumerate(racks_of(self.nodes, self.rack_size)):
                bridge, up, down = f"r{k}", f"u{k}", f"d{k}"
                net.add_bridge(self.bridge_ns, bridge)
                net.add_veth(self.bridge_ns, up, peer=down, bridge="br0")
                sh("ip", "-n", self.bridge_ns, "link", "set", down, "master", bridge, "up")
                for dev in (up, down):
                    net.shape(self.bridge_ns, dev, self.uplink_mbit)
                for i in rack:
                    rack_bridge[i] = bridge
        for i in range(self.nodes + 1):
            ns = self.seed_ns if i == 0 else self.node_ns(i)
            rate = self.seed_mbit if i == 0 else self.node_mbit
            net.add_namespace(ns)
            port = f"p{i}"
            net.add_veth(self.bridge_ns, port, ns, "eth0", bridge=rack_bridge.get(i, "br0"),
                         address=f"{self.ip(i)}/24")
            # Multicast (udpcast) leaves by eth0.
            sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0", check=False)
            # Upload cap at the node's end, download cap at the bridge port (see PEERS.md on tbf's burst).
            for where, dev in ((ns, "eth0"), (self.bridge_ns, port)):
                net.shape(where, dev, rate)

    def start(self, ns, args, log, marker=None, early=None):
        proc = Proc(self, ns, args, log, marker, early)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            proc.stop()
        self.procs = []

    def counters(self):
        """{port index: (bytes from the node, bytes to the node)} read at the bridge ports, and {"uK": …} for rack uplinks."""
        out = sh("ip", "-n", self.bridge_ns, "-s", "-j", "link", "show", capture=True)
        result = {}
        for link in json.loads(out):
            name = link.get("ifname", "")
            stats = link.get("stats64", {})
            both = (stats.get("rx", {}).get("bytes", 0), stats.get("tx", {}).get("bytes", 0))
            if name.startswith("p") and name[1:].isdigit():
                result[int(name[1:])] = both
            elif name.startswith("u") and name[1:].isdigit():
                result[name] = both  # a rack uplink's core end: (into the core, out to the rack)
        return result

    def teardown(self):
        self.stop_all()
        self.net.teardown()
        if self.lock:
            self.lock.__exit__(None, None, None)
            self.lock = None


class Sampler:
    """Samples the bridge counters and /proc/stat every `period` seconds in a thread."""

    def __init__(self, lab, period=0.5):
        self.lab = lab
        self.period = period
        self.samples = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_event.is_set():
            busy, total = cpu_times()
            self.samples.append((time.monotonic() - self.t0, busy, total, self.lab.counters()))
            self.stop_event.wait(self.period)

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(5)
        busy, total = cpu_times()
        self.samples.append((time.monotonic() - self.t0, busy, total, self.lab.counters()))
        return False


def percentile(values, q):
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


PROGRESS_LINE = re.compile(r"^([\d.]+)% ")
RECHECK_LINE = re.compile(r"rechecked existing data.*pieces_valid\W+(\d+)")


def piece_bytes(text):
    """`256K`, `1M`, `65536` → bytes."""
    units = {"K": 1 << 10, "M": 1 << 20}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)


def parse_recheck(lines):
    """How many pieces a restarted agent found verified on disk at start (`rechecked existing data`), or None."""
    for line in lines:
        match = RECHECK_LINE.search(line)
        if match:
            return int(match.group(1))
    return None


class Churn:
    """Kills a seeded random share of the leechers (SIGKILL) at random times mid-transfer; a share of those come
    back after `delay` seconds on the same output file and resume from the pieces they find verified on it."""

    def __init__(self, args, n, bound):
        import random
        rng = random.Random(args.churn_seed * 1000 + n)
        count = 0 if args.churn <= 0 or n < 2 else max(1, round(args.churn * n))
        victims = sorted(rng.sample(range(1, n + 1), min(count, n - 1)))
        # Kill between 15 % and 70 % of the bound: mid-transfer for every method that gets near it.
        self.kill_at = {i: rng.uniform(0.15, 0.7) * bound for i in victims}
        back = round(args.churn_return * len(victims))
        self.returning = set(rng.sample(victims, back))
        self.delay = args.churn_delay
        self.events = {}  # node -> what happened to it

    def gone(self):
        """Nodes killed for good (they never finish)."""
        return {i for i, e in self.events.items() if i not in self.returning}

    def step(self, lab, nodes, done, now, start_node):
        """Kills the nodes whose time has come (unless finished or not started), restarts returning ones."""
        for i, at in self.kill_at.items():
            if i in self.events or i in done or i not in nodes or now < at:
                continue
            proc = nodes[i]
            cpu = proc.cpu_seconds()
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.popen.wait()
            proc.thread.join(2)
            if proc.marker_time is not None:  # it finished between the check and the kill: not churn
                continue
            self.events[i] = {"killed_at_s": round(now, 3), "verified_fraction_at_kill": proc.last_verified_fraction(),
                              "bytes_in_at_kill": lab.counters().get(i, (0, 0))[1], "cpu_s_first_life": cpu,
                              "returns": i in self.returning}
        for i in self.returning:
            event = self.events.get(i)
            if event and "restarted_at_s" not in event and now >= event["killed_at_s"] + self.delay:
                event["bytes_in_at_restart"] = lab.counters().get(i, (0, 0))[1]
                event["restarted_at_s"] = round(now, 3)
                log = nodes[i].log_path
                os.replace(log, log[:-len(".log")] + "-first-life.log")
                nodes[i] = start_node(i)

    def waiting(self, i):
        """Whether node i is dead now (killed, not yet back or never)."""
        return i in self.events and "restarted_at_s" not in self.events[i]

    def summary(self, nodes, done, end_counters, size, piece, node_rate, p2p_bound):
        """The per-node record of each killed node, and the survivors' bound: a node back at t_r that lacks L bytes
        cannot finish before t_r + L / d (its download rate), and no survivor before T_p2p for the survivors."""
        bound = p2p_bound
        for i, event in self.events.items():
            if not event["returns"]:
                continue
            have = parse_recheck(nodes[i].lines)
            lacking = size - (have or 0) * piece
            got = end_counters.get(i, (0, 0))[1] - event["bytes_in_at_restart"]
            event.update({"pieces_rechecked_valid": have, "pieces": size // piece,
                          "lacking_bytes": lacking, "bytes_in_after_restart": got,
                          # Link-level bytes in after the restart per byte it lacked: ~1.04 is a clean resume,
                          # F / lacking (or more) would be a download from scratch.
                          "in_over_lacking": round(got / lacking, 3) if lacking else None,
                          "finished_s": done.get(i), "bound_s": event["restarted_at_s"] + lacking / node_rate})
            bound = max(bound, event["bound_s"])
        return {str(i): e for i, e in sorted(self.events.items())}, bound


ENGINE_LINE = re.compile(
    r"dup (\d+) blocks \([^)]*\) cancels-sent (\d+) cancels-honoured (\d+) endgame (\S+) \((\d+) req\) "
    r"rtt-mean ([\d.]+)s rtt-max ([\d.]+)s sent-blocks (\d+) distinct (\d+)")


def parse_engine(lines):
    """The last statistics line a rackswarm process printed (`swarm dup …`, or the seed's status line), or None."""
    for line in reversed(lines):
        match = ENGINE_LINE.search(line)
        if match:
            g = match.groups()
            return {"duplicate_blocks": int(g[0]), "cancels_sent": int(g[1]), "cancels_honoured": int(g[2]),
                    "endgame_after_s": None if g[3] == "-" else float(g[3].rstrip("s")),
                    "endgame_requests": int(g[4]), "request_rtt_mean_s": float(g[5]),
                    "request_rtt_max_s": float(g[6]), "sent_blocks": int(g[7]), "distinct_sent_blocks": int(g[8])}
    return None


def racks_of(n, rack_size):
    """Node indices (1-based) grouped into racks of `rack_size`."""
    return [list(range(start, min(start + rack_size, n + 1))) for start in range(1, n + 1, rack_size)]


def run_method(lab, args, method, n, source, torrent, lt_torrent):
    """Distributes `source` to nodes 1…n with `method`; returns the run's record (raises LabError on failure)."""
    run_dir = os.path.join(args.work, f"{method}-{n}")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    # libtorrent saves under SAVE_DIR/<torrent name>, so each node gets its own directory.
    outputs = {i: os.path.join(run_dir, f"node{i}", os.path.basename(source)) for i in range(1, n + 1)}
    for path in outputs.values():
        os.makedirs(os.path.dirname(path))
    seed_ip = lab.ip(0)
    racks = racks_of(n, args.rack_size)
    rack_name = {i: f"r{k}" for k, rack in enumerate(racks) for i in rack}
    size = os.path.getsize(source)
    startup_timeout = 60

    # The server side, started and ready before the clock starts.
    if method in ("waves", "flat"):
        seed_args = [os.path.join(args.bin, "reconcile"), "seed", torrent, "--data", source,
                     "--listen", f"{seed_ip}:{BT_PORT}", "--tracker-listen", f"{seed_ip}:{TRACKER_PORT}",
                     "--advertise", f"{seed_ip}:{BT_PORT}"]
        if method == "waves":
            for i in range(1, n + 1):
                seed_args += ["--rack", f"{lab.ip(i)}={rack_name[i]}"]
            if args.keep_in_rack:
                seed_args += ["--keep-in-rack"]
        # Kept in racks the seed does not super-seed, and refuses an offer count.
        if args.super_seed_in_flight and "--keep-in-rack" not in seed_args:
            seed_args += ["--super-seed-in-flight", str(args.super_seed_in_flight)]
        lab.start(lab.seed_ns, seed_args, os.path.join(run_dir, "seed.log"), "seeding").wait_marker(startup_timeout)
    elif method == "libtorrent":
        peers = [f"{lab.ip(i)}:{BT_PORT}" for i in range(0, n + 1)]
        lab.start(lab.seed_ns, [LT_PYTHON, "-u", os.path.join(HERE, "fixed_tracker.py"), seed_ip,
                                str(LT_TRACKER_PORT)] + peers,
                  os.path.join(run_dir, "tracker.log"), "READY").wait_marker(startup_timeout)
        lab.start(lab.seed_ns, [LT_PYTHON, "-u", os.path.join(HERE, "lt_peer.py"), "seed", lt_torrent,
                                os.path.dirname(source), f"{seed_ip}:{BT_PORT}"],
                  os.path.join(run_dir, "seed.log"), "READY").wait_marker(startup_timeout)
    elif method == "http":
        lab.start(lab.seed_ns, [LT_PYTHON, "-u", "-m", "http.server", str(HTTP_PORT), "--bind", seed_ip,
                                "--directory", os.path.dirname(source)],
                  os.path.join(run_dir, "seed.log"), "Serving HTTP").wait_marker(startup_timeout)

    def start_node(i):
        ns = lab.node_ns(i)
        log = os.path.join(run_dir, f"node{i}.log")
        if method in ("waves", "flat"):
            node_args = [os.path.join(args.bin, "provision-agent"), "fetch", torrent, "--out-file", outputs[i],
                         "--listen", f"{lab.ip(i)}:{BT_PORT}",
                         "--tracker", f"http://{seed_ip}:{TRACKER_PORT}/announce", "--seed-for", "3600"]
            if method == "waves":
                node_args += ["--rack", rack_name[i]]
                if args.rack_preference:
                    node_args += ["--rack-preference"]
            return lab.start(ns, node_args, log, "verified", early="first piece passed its hash")
        if method == "libtorrent":
            return lab.start(ns, [LT_PYTHON, "-u", os.path.join(HERE, "lt_peer.py"), "leech", lt_torrent,
                                  os.path.dirname(outputs[i]),
                                  f"{lab.ip(i)}:{BT_PORT}", f"{seed_ip}:{BT_PORT}"], log, "DONE")
        if method == "http":
            return lab.start(ns, ["curl", "-sS", "--fail", "-o", outputs[i],
                                  f"http://{seed_ip}:{HTTP_PORT}/{os.path.basename(source)}"], log)
        if method == "udpcast":
            return lab.start(ns, ["udp-receiver", "--file", outputs[i], "--interface", "eth0", "--nokbd"], log)
        raise LabError(f"unknown method {method}")

    timeout = args.timeout or (60 + 4 * n * size * 8 / (args.seed_mbit * 1e6))
    nodes = {}
    done = {}
    churn = Churn(args, n, p2p_bound(size, args, n))
    load_before = os.getloadavg()
    with Sampler(lab) as sampler:
        t0 = time.monotonic()
        if method == "waves":
            for rack in racks:
                for i in rack[:args.first_wave]:
                    nodes[i] = start_node(i)
        else:
            for i in range(1, n + 1):
                nodes[i] = start_node(i)
        if method == "udpcast":
            time.sleep(0.5)
            lab.start(lab.seed_ns, ["udp-sender", "--file", source, "--interface", "eth0", "--nokbd",
                                    "--min-receivers", str(n), "--max-bitrate",
                                    f"{int(args.seed_mbit * 0.9)}m"], os.path.join(run_dir, "seed.log"))
        deadline = t0 + timeout
        while len(done) < n - len(churn.gone()):
            churn.step(lab, nodes, done, time.monotonic() - t0, start_node)
            for i, proc in list(nodes.items()):
                if i in done or churn.waiting(i):
                    continue
                finished = proc.done_time()
                if finished is not None:
                    done[i] = finished - t0
            if method == "waves":
                for rack in racks:
                    first = rack[:args.first_wave]
                    # The rest of the rack starts once its first wave is verified: whole copies (`complete`), or
                    # the first verified piece of each (`first-piece`: the first wave can already serve the rest).
                    if args.wave_start == "complete":
                        ready = all(i in done for i in first)
                    else:
                        ready = all(i in done or i in churn.events or nodes[i].early_time is not None for i in first)
                    if ready:
                        for i in rack[args.first_wave:]:
                            if i not in nodes:
                                nodes[i] = start_node(i)
            if time.monotonic() > deadline:
                raise LabError(f"{method} N={n}: {len(done)}/{n} nodes done after {timeout:.0f} s")
            time.sleep(0.02)
    started = [round(nodes[i].started - t0, 3) for i in range(1, n + 1)]
    first_piece = [round(nodes[i].early_time - t0, 3) if nodes[i].early_time is not None else None
                   for i in range(1, n + 1)]
    engine = {str(i): parse_engine(proc.lines) for i, proc in nodes.items()}
    seed_proc = next((p for p in lab.procs if p.log_path.endswith("seed.log")), None)
    if seed_proc is not None and method in ("waves", "flat"):
        engine["0"] = parse_engine(seed_proc.lines)
    # CPU seconds of every process of this run (seed, tracker, agents; a killed agent's first life included).
    cpu_s = sum(p.cpu_seconds() or 0 for p in lab.procs if p.popen.poll() is None)
    cpu_s += sum(e["cpu_s_first_life"] or 0 for e in churn.events.values())
    load_after = os.getloadavg()
    lab.stop_all()
    survivors = sorted(done)
    mismatched = [i for i in survivors
                  if not os.path.exists(outputs[i]) or not filecmp.cmp(source, outputs[i], shallow=False)]
    if mismatched:
        raise LabError(f"{method} N={n}: copies differ from the source on nodes {mismatched}")

    first, last = sampler.samples[0], sampler.samples[-1]
    elapsed = [done[i] for i in survivors]
    cpu = (last[1] - first[1]) / max(1, last[2] - first[2])
    peak = 0.0
    for a, b in zip(sampler.samples, sampler.samples[2:]):
        peak = max(peak, (b[1] - a[1]) / max(1, b[2] - a[2]))
    node_up = sum(last[3].get(i, (0, 0))[0] - first[3].get(i, (0, 0))[0] for i in range(1, n + 1))
    node_down = sum(last[3].get(i, (0, 0))[1] - first[3].get(i, (0, 0))[1] for i in range(1, n + 1))
    record = {
        "method": method, "nodes": n, "elapsed_s": elapsed, "p50_s": percentile(elapsed, 0.5),
        "makespan_s": max(elapsed), "seed_egress_bytes": last[3][0][0] - first[3][0][0],
        "nodes_upload_bytes": node_up, "nodes_download_bytes": node_down, "cpu_busy_fraction": cpu, "cpu_busy_peak_1s": peak,
        "verified_copies": len(survivors), "racks": racks if method == "waves" else None,
        "cpu_s_processes": round(cpu_s, 2), "load_average_before": load_before, "load_average_after": load_after,
        "wave_start": args.wave_start if method == "waves" else None,
        "started_s": started,
        "uplink_bytes": sum(sum(v) - sum(first[3].get(k, (0, 0))) for k, v in last[3].items() if isinstance(k, str)),
        # Per rack uplink (uK = rack K), both directions, in bytes and in copies of the file (wire bytes: headers too).
        "uplink_over_F_by_rack": {k: round((sum(v) - sum(first[3].get(k, (0, 0)))) / size, 3)
                                  for k, v in sorted(last[3].items(), key=lambda kv: str(kv[0])) if isinstance(k, str)},
    }
    if method in ("waves", "flat"):
        record["engine"] = engine
        record["first_piece_s"] = first_piece
    if churn.kill_at:
        events, bound = churn.summary(nodes, done, last[3], size, piece_bytes(args.piece_size),
                                      args.node_mbit * 1e6 / 8, p2p_bound(size, args, len(survivors)))
        record["churn"] = {"planned_kills_s": {str(i): round(t, 3) for i, t in churn.kill_at.items()},
                           "killed": events, "survivors": survivors, "bound_survivors_s": bound,
                           "makespan_never_killed_s": max(done[i] for i in survivors if i not in churn.events),
                           "makespan_over_bound_survivors": round(max(elapsed) / bound, 3)}
    if n == args.timeline_for:
        record["timeline"] = [
            {"t": round(t, 3), "up": [c.get(i, (0, 0))[0] - first[3].get(i, (0, 0))[0] for i in range(0, n + 1)],
             "down": [c.get(i, (0, 0))[1] - first[3].get(i, (0, 0))[1] for i in range(0, n + 1)]}
            for t, _, _, c in sampler.samples]
    if not args.keep_copies:
        for path in outputs.values():
            if os.path.exists(path):
                os.unlink(path)
    record["copies"] = list(outputs.values()) if args.keep_copies else []
    return record


def p2p_bound(size, args, n):
    """T_p2p = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) with the nominal link rates."""
    u_s = args.seed_mbit * 1e6 / 8
    u_i = args.node_mbit * 1e6 / 8
    return max(size / u_s, size / u_i, n * size / (u_s + n * u_i)) if n else size / u_s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory with reconcile and provision-agent")
    parser.add_argument("--work", required=True, help="scratch directory (use /dev/shm)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--nodes", default="1,2,4,8,16")
    parser.add_argument("--methods", default="waves,flat,libtorrent,http")
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--piece-size", default="256K")
    parser.add_argument("--node-mbit", type=float, default=40)
    parser.add_argument("--seed-mbit", type=float, default=40)
    parser.add_argument("--rack-size", type=int, default=4)
    parser.add_argument("--uplink-mbit", type=float, default=0,
                        help="cap each rack's uplink to the core (both ways); 0: one flat bridge, no cap")
    parser.add_argument("--keep-in-rack", action=argparse.BooleanOptionalAction, default=None,
                        help="waves: the seed's tracker keeps traffic in racks (reconcile seed --keep-in-rack); "
                             "default: on with --uplink-mbit, off without")
    parser.add_argument("--rack-preference", action="store_true",
                        help="waves: the agents keep traffic in their racks themselves (provision-agent fetch "
                             "--rack-preference), also without --keep-in-rack")
    parser.add_argument("--first-wave", type=int, default=1)
    parser.add_argument("--super-seed-in-flight", type=int, default=0,
                        help="our seed's super-seed offers out at once (default: the engine's)")
    parser.add_argument("--wave-start", choices=("first-piece", "complete"), default="first-piece",
                        help="when the rest of a rack starts: at the first wave's first verified piece, or its end")
    parser.add_argument("--timeout", type=float, default=0, help="per run; default from the client-server bound")
    parser.add_argument("--timeline-for", type=int, default=-1, help="record per-node rates for this N")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--churn", type=float, default=0,
                        help="share of the leechers SIGKILLed at random times mid-transfer (at least one when > 0)")
    parser.add_argument("--churn-return", type=float, default=0.5,
                        help="share of the killed leechers that come back and resume from their verified pieces")
    parser.add_argument("--churn-delay", type=float, default=2.0, help="seconds a returning leecher is away")
    parser.add_argument("--churn-seed", type=int, default=1, help="seeds which leechers die and when")
    parser.add_argument("--keep-copies", action="store_true", help="leave every node's copy in --work")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("lab.py: needs root (ip netns)")
    for tool in ("ip", "tc", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"lab.py: {tool} not found")
    if args.keep_in_rack is None:
        args.keep_in_rack = args.uplink_mbit > 0
    sizes = [int(x) for x in args.nodes.split(",")]
    methods = args.methods.split(",")
    if args.timeline_for < 0:
        args.timeline_for = max(sizes)
    # SIGTERM/SIGINT/SIGHUP unwind through the context manager, so the lab is torn down.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))

    os.makedirs(args.work, exist_ok=True)
    src_dir = os.path.join(args.work, "src")
    os.makedirs(src_dir, exist_ok=True)
    source = os.path.join(src_dir, "image.img")
    with open(source, "wb") as f:
        for _ in range(args.size_mib):
            f.write(os.urandom(1 << 20))
    torrent = os.path.join(args.work, "image.torrent")
    lt_torrent = os.path.join(args.work, "image-lt.torrent")
    reconcile = os.path.join(args.bin, "reconcile")
    seed_ip = f"{SUBNET}.1"
    if {"waves", "flat", "libtorrent"} & set(methods):
        sh(reconcile, "image", "publish", source, "--out-file", torrent, "--piece-size", args.piece_size,
           "--tracker", f"http://{seed_ip}:{TRACKER_PORT}/announce")
        sh(reconcile, "image", "publish", source, "--out-file", lt_torrent, "--piece-size", args.piece_size,
           "--tracker", f"http://{seed_ip}:{LT_TRACKER_PORT}/announce")
    size = os.path.getsize(source)
    u_s = args.seed_mbit * 1e6 / 8
    u_i = args.node_mbit * 1e6 / 8
    result = {
        "config": {"file_bytes": size, "piece_size": args.piece_size, "node_mbit": args.node_mbit,
                   "seed_mbit": args.seed_mbit, "rack_size": args.rack_size, "first_wave": args.first_wave,
                   "wave_start": args.wave_start, "uplink_mbit": args.uplink_mbit,
                   "keep_in_rack": args.keep_in_rack, "rack_preference": args.rack_preference,
                   "super_seed_in_flight": args.super_seed_in_flight or None,
                   "churn": args.churn, "churn_return": args.churn_return,
                   "churn_delay_s": args.churn_delay, "churn_seed": args.churn_seed,
                   "cores": os.cpu_count(), "methods": methods, "nodes": sizes, "shaping": "tbf both directions"},
        "bounds": {str(n): {"t_p2p_s": p2p_bound(size, args, n),
                            "t_cs_s": max(n * size / u_s, size / u_i)} for n in sizes},
        "runs": [], "failures": [],
    }
    with Lab(max(sizes), args.node_mbit, args.seed_mbit, args.work, rack_size=args.rack_size,
             uplink_mbit=args.uplink_mbit) as lab:
        result["lab"] = {"prefix": lab.prefix, "namespaces": list(lab.created)}
        for n in sizes:
            for method in methods:
                for rep in range(args.repeat):
                    print(f"== {method} N={n} ({rep + 1}/{args.repeat})", flush=True)
                    try:
                        record = run_method(lab, args, method, n, source, torrent, lt_torrent)
                    except LabError as error:
                        lab.stop_all()
                        print(f"!! {error}", flush=True)
                        result["failures"].append({"method": method, "nodes": n, "error": str(error)})
                        continue
                    bound = result["bounds"][str(n)]["t_p2p_s"]
                    record["repeat"] = rep
                    print(f"   p50 {record['p50_s']:.2f} s ({record['p50_s'] / bound:.2f}x T_p2p), makespan "
                          f"{record['makespan_s']:.2f} s ({record['makespan_s'] / bound:.2f}x), seed egress "
                          f"{record['seed_egress_bytes'] / size:.2f} F, CPU {record['cpu_busy_fraction']:.0%}, "
                          f"{record['cpu_s_processes']:.1f} CPU-s, load {record['load_average_after'][0]:.1f}",
                          flush=True)
                    if record.get("uplink_over_F_by_rack"):
                        print(f"   uplinks / F: {record['uplink_over_F_by_rack']}", flush=True)
                    if record.get("churn"):
                        c = record["churn"]
                        print(f"   churn: {len(c['survivors'])} survivors, makespan / survivors' bound "
                              f"{c['makespan_over_bound_survivors']:.2f}; killed "
                              + "; ".join(f"n{i} at {e['killed_at_s']:.1f} s "
                                          f"({e['verified_fraction_at_kill']:.0%} verified)"
                                          + (f", back at {e['restarted_at_s']:.1f} s, rechecked "
                                             f"{e['pieces_rechecked_valid']}/{e['pieces']} pieces, in / lacking "
                                             f"{e['in_over_lacking']}" if e["returns"] else ", gone")
                                          for i, e in c["killed"].items()), flush=True)
                    result["runs"].append(record)
        result["lab"]["pids"] = list(lab.pids)
    result["source"] = source
    with open(args.out, "w") as out:
        json.dump(result, out, indent=1)
    if result["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
