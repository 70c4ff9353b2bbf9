"""How a tbf-capped link splits between TCP flows of different histories, in the distribution lab's own network.

The swarm simulator (Sources/Torrent/Simulation, issue 21) shares links max-min fairly between flows. At N = 16 it
is 9-15 % slower than the namespace lab, and `ss -tin` showed the lab's seed flows getting up to twice a receiver's
1/16 share. This script measures the sharing alone, without the engine: one seed and N nodes built by lab.py's
`Lab` (one bridge, tbf both ways at the lab's rates, 50 ms queues; the namespaces take the host's congestion
control, BBR here, or `--cc`), and plain TCP transfers between them from a small agent (this file, `agent`), one
process per namespace. Each receiver logs the bytes of every connection as they arrive; `ss -tin` is sampled in
the senders' namespaces. Every scenario's measured rates are set beside max-min's for the same flows and links,
and where every flow is long from the start beside the window model's (`window_rates`: the simulator's
`--sharing window`). `--cc` sets the congestion control on each sending socket (TCP_CONGESTION).

Scenarios (each `--seconds` long; "long" sends until the end, "piece" sends --piece bytes and goes idle):
  seed-vs-peers  the seed sends long flows to n1..n8; n9..n23 each send one long flow to n1. Max-min gives the
                 seed's flow into n1 n1's 1/16, the same as each peer's.
  seed-vs-burst  the same seed flows; n9..n23 each send n1 one piece at once every 1.5 s (the simulated swarm's
                 lock-step bursts), on connections opened before the start.
  late-flow      n2..n9 send n1 long flows from the start; n10 opens a long one at 2 s; n11 sends one piece on a
                 fresh connection at 4 s; n12 one piece at 5 s on a connection idle since before the start.
  sender-split   the seed sends long flows to n1..n4 and a piece every second to each of n5..n8 (short flows on the
                 same sender as established long ones).
  mesh           the seed sends long flows to n1..n8 and each of n1..n16 a long flow to each of the 15 others:
                 every node sends and receives, as in the simulated N = 16 swarm (248 flows).
  mesh-burst     the same seed flows; each of n1..n16 sends each of the 15 others one piece at once every 1.5 s
                 (the simulated swarm's bursts, with the seed's flows established).
Holds the labs' host lock (netlab.HostLock) for the whole run and always tears the namespaces down. Needs root.

Usage: tcp_split.py --work DIR --out FILE.json [--summary-out results/tcp-split.json] [--scenarios a,b]
                    [--seconds 6] [--repeat K] [--cc bbr|cubic|host]
       tcp_split.py plot results/tcp-split.json results/tcp-split.png
"""
import argparse
import bisect
import json
import os
import re
import selectors
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
PORT = 5301
HEADER = 64
CHUNK = 64 * 1024
# Payload per byte on the wire for a full segment: 1448 bytes of TCP payload in a 1514-byte Ethernet frame (tbf
# counts the frame), as the simulator's goodput.
GOODPUT = 1448 / 1514


# MARK: the agent (runs inside one namespace)


def agent(spec_path):
    """Receives on PORT and sends the spec's transfers; writes what it saw to the spec's "out" as JSON."""
    with open(spec_path) as file:
        spec = json.load(file)
    received = {}  # flow name -> [(t - t0, bytes so far)]
    sent = {}  # flow name -> [times (t - t0) each piece's last byte was written]
    stop = threading.Event()

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", PORT))
    listener.listen(64)
    listener.setblocking(False)
    # Every agent listens before the orchestrator writes the start time (so early connections find a listener).
    print("ready", flush=True)
    while not os.path.exists(spec["go"]):
        time.sleep(0.01)
    with open(spec["go"]) as file:
        t0 = float(file.read())
    end = t0 + spec["seconds"]

    def receive():
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, None)
        state = {}
        while time.time() < end + 1.0:
            for key, _ in selector.select(0.05):
                if key.data is None:
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ, conn)
                    state[conn] = [b"", None, 0]
                    continue
                conn = key.data
                try:
                    data = conn.recv(1 << 20)
                except BlockingIOError:
                    continue
                now = time.time() - t0
                if not data:
                    selector.unregister(conn)
                    conn.close()
                    continue
                entry = state[conn]
                if entry[1] is None:
                    entry[0] += data
                    if len(entry[0]) < HEADER:
                        continue
                    entry[1] = entry[0][:HEADER].rstrip(b"\0").decode()
                    data = entry[0][HEADER:]
                    received[entry[1]] = [(now, 0)]
                if data:
                    entry[2] += len(data)
                    received[entry[1]].append((round(now, 4), entry[2]))
        for conn in state:
            conn.close()

    def send(transfer):
        name = transfer["name"]
        opened = t0 + transfer["start"] if transfer["connect"] == "at-start" else t0 - 1.0
        time.sleep(max(0, opened - time.time()))
        sock = socket.socket()
        if spec.get("cc"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, spec["cc"].encode())
        sock.settimeout(10)
        sock.connect((transfer["to"], PORT))
        sock.sendall(name.encode().ljust(HEADER, b"\0"))
        times = sent.setdefault(name, [])
        buffer = bytes(CHUNK)
        try:
            if transfer["kind"] == "long":
                time.sleep(max(0, t0 + transfer["start"] - time.time()))
                while time.time() < end and not stop.is_set():
                    sock.sendall(buffer)
            else:
                k = 0
                while True:
                    due = t0 + transfer["start"] + k * transfer["every"]
                    if due >= end or (transfer["every"] == 0 and k > 0):
                        break
                    time.sleep(max(0, due - time.time()))
                    left = transfer["bytes"]
                    while left > 0:
                        sock.sendall(buffer[:min(left, CHUNK)])
                        left -= min(left, CHUNK)
                    times.append(round(time.time() - t0, 4))
                    k += 1
            time.sleep(max(0, end + 0.5 - time.time()))
        finally:
            sock.close()

    threads = [threading.Thread(target=receive, daemon=True)]
    threads += [threading.Thread(target=send, args=(t,), daemon=True) for t in spec["transfers"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(spec["seconds"] + 15)
    stop.set()
    with open(spec["out"], "w") as file:
        json.dump({"received": received, "sent": sent}, file)
    print("done", flush=True)


# MARK: scenarios


def long(sender, receiver, start=0.0, connect="early"):
    return {"from": sender, "to": receiver, "kind": "long", "start": start, "connect": connect}


def piece(sender, receiver, start, every=0.0, connect="early"):
    return {"from": sender, "to": receiver, "kind": "piece", "start": start, "every": every, "connect": connect}


def scenario(name, seconds):
    """The transfers of a scenario: node 0 is the seed, 1… the nodes."""
    if name == "seed-vs-peers":
        return [long(0, r) for r in range(1, 9)] + [long(p, 1) for p in range(9, 24)]
    if name == "seed-vs-burst":
        return [long(0, r) for r in range(1, 9)] + [piece(p, 1, 1.0, 1.5) for p in range(9, 24)]
    if name == "late-flow":
        return ([long(p, 1) for p in range(2, 10)] + [long(10, 1, 2.0, "at-start")]
                + [piece(11, 1, 4.0, connect="at-start"), piece(12, 1, 5.0)])
    if name == "sender-split":
        return [long(0, r) for r in range(1, 5)] + [piece(0, r, 0.5, 1.0) for r in range(5, 9)]
    if name == "mesh":
        return [long(0, r) for r in range(1, 9)] + [long(i, j) for i in range(1, 17) for j in range(1, 17) if i != j]
    if name == "mesh-burst":
        return ([long(0, r) for r in range(1, 9)]
                + [piece(i, j, 1.0, 1.5) for i in range(1, 17) for j in range(1, 17) if i != j])
    raise SystemExit(f"tcp_split.py: no scenario {name}")


SCENARIOS = ("seed-vs-peers", "seed-vs-burst", "late-flow", "sender-split", "mesh", "mesh-burst")


def max_min(flows, capacity):
    """Max-min fair rates (progressive filling) of flows given as (sender, receiver) over each node's up and down
    link of `capacity`: the simulator's model."""
    links = {}
    for index, (sender, receiver) in enumerate(flows):
        links.setdefault(("up", sender), []).append(index)
        links.setdefault(("down", receiver), []).append(index)
    remaining = {link: capacity for link in links}
    rates = [None] * len(flows)
    while any(rate is None for rate in rates):
        share, link = min((remaining[l] / sum(1 for f in fs if rates[f] is None), l)
                          for l, fs in links.items() if any(rates[f] is None for f in fs))
        for flow in links[link]:
            if rates[flow] is None:
                rates[flow] = share
                sender, receiver = flows[flow]
                remaining[("up", sender)] -= share
                remaining[("down", receiver)] -= share
    return rates


def window_rates(flows, capacity, tolerance=1e-9, rounds=100000):
    """The simulator's `--sharing window` model (Sources/Torrent/Simulation/WindowShare.swift) for flows given as
    (sender, receiver): each flow's rate is 1 / the sum of the delay prices of the links its data crosses (sender
    up, receiver down) and its acknowledgements cross (receiver up, sender down); a link's price is positive only
    when its data fills it. Solved here by multiplicative price steps (the simulator solves each link exactly)."""
    data = [(("up", s), ("down", r)) for s, r in flows]
    paid = [(("up", s), ("down", r), ("up", r), ("down", s)) for s, r in flows]
    count = {}
    for path in data:
        for link in path:
            count[link] = count.get(link, 0) + 1
    price = {link: n / capacity for link, n in count.items()}
    for _ in range(rounds):
        rates = [1 / sum(price.get(link, 0) for link in path) for path in paid]
        load = dict.fromkeys(count, 0.0)
        for path, rate in zip(data, rates):
            for link in path:
                load[link] += rate
        if all(abs(load[l] / capacity - 1) < tolerance or (load[l] < capacity and price[l] * capacity < tolerance)
               for l in count):
            break
        for link in count:
            price[link] *= (load[link] / capacity) ** 0.5
    return rates


def summary(record):
    """A run without its time series: per flow its class, measured / max-min, and window model / max-min for the
    long flows of the steady window; and the median of each `ss -tin` field per sampled sender."""
    flows = []
    for flow in record["flows"]:
        kept = {k: flow[k] for k in ("name", "from", "to", "kind", "start", "bytes", "measured_over_max_min",
                                     "steady_Bps", "max_min_Bps", "window_model_Bps", "pieces_done_s") if k in flow}
        flows.append(kept)
    ss = {}
    for sample in record["ss"]:
        for connection in sample["connections"].values():
            for key, value in connection.items():
                if key != "dst":
                    ss.setdefault(str(sample["node"]), {}).setdefault(key, []).append(value)
    medians = {node: {key: sorted(values)[len(values) // 2] for key, values in fields.items()}
               for node, fields in ss.items()}
    return {k: record[k] for k in ("scenario", "seconds", "bin_s", "capacity_Bps", "piece_bytes", "repeat",
                                   "load_after", "cc") if k in record} | {"flows": flows, "ss_medians": medians}


# MARK: ss sampling


SS_FIELDS = {"cwnd": r"\bcwnd:(\d+)", "rtt_ms": r"\brtt:([\d.]+)/", "minrtt_ms": r"\bminrtt:([\d.]+)",
             "pacing_bps": r"\bpacing_rate (\d+(?:\.\d+)?[KMG]?)bps",
             "delivery_bps": r"\bdelivery_rate (\d+(?:\.\d+)?[KMG]?)bps",
             "bytes_acked": r"\bbytes_acked:(\d+)", "bbr_bw_bps": r"bbr:\(bw:(\d+(?:\.\d+)?[KMG]?)bps",
             "bbr_mrtt_ms": r"mrtt:([\d.]+)", "pacing_gain": r"pacing_gain:([\d.]+)", "unacked": r"\bunacked:(\d+)"}


def rate_value(text):
    scale = {"K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1], 1)
    return float(text[:-1] if text[-1] in "KMG" else text) * scale


def parse_ss(text, port):
    """{destination address: fields} for the connections to PORT in `ss -tin` output."""
    connections = {}
    lines = text.splitlines()
    for line, info in zip(lines, lines[1:]):
        parts = line.split()
        if len(parts) < 5 or not parts[0].startswith("ESTAB") or not parts[4].endswith(f":{port}"):
            continue
        fields = {"dst": parts[4].rsplit(":", 1)[0]}
        for key, pattern in SS_FIELDS.items():
            match = re.search(pattern, info)
            if match:
                value = match.group(1)
                fields[key] = rate_value(value) if key.endswith("_bps") else float(value)
        connections[fields["dst"]] = fields
    return connections


# MARK: running a scenario


def run_scenario(lab, name, args, netlab):
    transfers = scenario(name, args.seconds)
    for index, transfer in enumerate(transfers):
        kind = "L" if transfer["kind"] == "long" else "P"
        transfer["name"] = f"{kind}{transfer['from']}-{transfer['to']}#{index}"
        transfer["bytes"] = args.piece
    nodes = sorted({t["from"] for t in transfers} | {t["to"] for t in transfers})
    go = os.path.join(args.work, f"{name}.go")
    if os.path.exists(go):
        os.unlink(go)
    outputs = {}
    procs = []
    for node in nodes:
        ns = lab.seed_ns if node == 0 else lab.node_ns(node)
        spec = {"go": go, "cc": None if args.cc == "host" else args.cc, "seconds": args.seconds,
                "out": os.path.join(args.work, f"{name}-{node}.json"),
                "transfers": [dict(t, to=lab.ip(t["to"])) for t in transfers if t["from"] == node]}
        path = os.path.join(args.work, f"{name}-{node}.spec.json")
        with open(path, "w") as file:
            json.dump(spec, file)
        outputs[node] = spec["out"]
        procs.append(lab.start(ns, [sys.executable, os.path.abspath(__file__), "agent", path],
                               os.path.join(args.work, f"{name}-{node}.log"), marker="ready"))
    for proc in procs:
        proc.wait_marker(30)
    t0 = time.time() + 1.5
    with open(go + ".tmp", "w") as file:
        file.write(repr(t0))
    os.rename(go + ".tmp", go)
    samples = []
    watched = sorted({t["from"] for t in transfers})[: args.ss_senders]
    time.sleep(max(0, t0 - time.time()))
    while time.time() < t0 + args.seconds:
        at = time.time() - t0
        for node in watched:
            ns = lab.seed_ns if node == 0 else lab.node_ns(node)
            text = netlab.sh("ip", "netns", "exec", ns, "ss", "-tin", capture=True)
            samples.append({"t": round(at, 3), "node": node, "connections": parse_ss(text, PORT)})
        time.sleep(args.ss_period)
    for proc in procs:
        proc.popen.wait(args.seconds + 30)
    lab.stop_all()
    received = {}
    for node, path in outputs.items():
        with open(path) as file:
            data = json.load(file)
        received.update(data["received"])
        for flow, times in data["sent"].items():
            for transfer in transfers:
                if transfer["name"] == flow:
                    transfer["written_s"] = times
    return summarize(name, transfers, received, samples, args, lab)


def rate_between(points, a, b):
    """Mean rate (bytes/s) of a flow over [a, b) from its (t, bytes so far) points."""
    times = [point[0] for point in points]

    def at(t):
        k = bisect.bisect_right(times, t)
        return points[k - 1][1] if k else 0
    return (at(b) - at(a)) / (b - a)


def active_at(flow, t):
    """Whether a flow is sending at time t (a piece: between when it was due and when its last byte arrived)."""
    if flow["kind"] == "long":
        return t >= flow["start"]
    for k, done in enumerate(flow["pieces_done_s"]):
        if flow["start"] + k * flow["every"] <= t < done:
            return True
    return False


def summarize(name, transfers, received, samples, args, lab):
    capacity = args.mbit * 1e6 / 8 * GOODPUT
    bin_s = args.bin
    bins = int(args.seconds / bin_s)
    flows = []
    for transfer in transfers:
        points = received.get(transfer["name"], [])
        series = [round(rate_between(points, k * bin_s, (k + 1) * bin_s)) for k in range(bins)]
        record = {key: transfer[key] for key in ("name", "from", "to", "kind", "start", "connect")}
        record["bytes"] = points[-1][1] if points else 0
        record["rate_bins_Bps"] = series
        if transfer["kind"] == "piece":
            record["every"] = transfer["every"]
            done, count, k = [], args.piece, 0
            for time_, total in points:
                while total >= count * (k + 1):
                    done.append(round(time_, 4))
                    k += 1
            record["pieces_done_s"] = done
            record["pieces_written_s"] = transfer.get("written_s", [])
        flows.append(record)
    # Max-min over the flows active in the steady window (long flows) for the scenarios that have one.
    window = (max(1.0, args.seconds / 3), args.seconds - 0.5)
    long_flows = [f for f in flows if f["kind"] == "long" and f["start"] <= window[0] - 0.5]
    predicted = max_min([(f["from"], f["to"]) for f in long_flows], capacity)
    # The window model's steady rates, where every flow is long from the start (elsewhere the set of flows changes).
    steady = long_flows and all(f["kind"] == "long" and f["start"] == 0 for f in flows)
    modelled = window_rates([(f["from"], f["to"]) for f in long_flows], capacity) if steady else []
    for flow, model in zip(long_flows, modelled):
        flow["window_model_Bps"] = round(model)
    for flow, rate in zip(long_flows, predicted):
        points = received.get(flow["name"], [])
        flow["steady_window_s"] = window
        flow["steady_Bps"] = round(rate_between(points, *window))
        flow["max_min_Bps"] = round(rate)
    # Bin by bin, max-min over the flows active at the bin's middle: a long flow from its start, a piece from
    # when it was due until its last byte arrived.
    for flow in flows:
        flow["max_min_bins_Bps"] = [0] * bins
    for k in range(bins):
        middle = (k + 0.5) * bin_s
        active = [f for f in flows if active_at(f, middle)]
        for flow, rate in zip(active, max_min([(f["from"], f["to"]) for f in active], capacity)):
            flow["max_min_bins_Bps"][k] = round(rate)
    for flow in flows:
        measured = sum(m for m, p in zip(flow["rate_bins_Bps"], flow["max_min_bins_Bps"]) if p > 0)
        expected = sum(flow["max_min_bins_Bps"])
        flow["measured_over_max_min"] = round(measured / expected, 3) if expected else None
    return {"scenario": name, "seconds": args.seconds, "bin_s": bin_s, "capacity_Bps": capacity,
            "piece_bytes": args.piece, "flows": flows, "ss": samples, "ips": {str(i): lab.ip(i) for i in range(24)}}


def flow_class(flow):
    """A flow's class in the plot and the report: the seed's or a node's, long or piece, into n1 or not."""
    return ("seed" if flow["from"] == 0 else "node") + " " + flow["kind"] + (" into n1" if flow["to"] == 1 else "")


def plot(results_path, png_path):
    """Measured / max-min per scenario and class of flow (one dot per run) beside the window model's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = json.load(open(results_path))["runs"]
    keys = []
    for run in runs:
        for flow in run["flows"]:
            key = (run["scenario"], flow_class(flow))
            if key not in keys:
                keys.append(key)
    fig, ax = plt.subplots(figsize=(13, 4.8))
    for x, (scenario, cls) in enumerate(keys):
        for run in (r for r in runs if r["scenario"] == scenario):
            flows = [f for f in run["flows"] if flow_class(f) == cls and f.get("measured_over_max_min") is not None]
            if flows and run.get("cc") == "cubic":
                mean = sum(f["measured_over_max_min"] for f in flows) / len(flows)
                ax.plot([x + 0.15], [mean], "^", color="tab:orange", label="measured with CUBIC (class mean)")
            elif flows:
                mean = sum(f["measured_over_max_min"] for f in flows) / len(flows)
                ax.plot([x], [mean], "o", color="tab:blue", label="measured (a run's class mean)")
            if flows and run.get("cc") != "cubic":
                ax.plot([x] * len(flows), [f["measured_over_max_min"] for f in flows], ".", color="tab:blue",
                        alpha=0.08)
        # The model's steady rates only where every flow is long from the start (elsewhere the set changes).
        model = [f["window_model_Bps"] / f["max_min_Bps"] for r in runs if r["scenario"] == scenario
                 and all(g["kind"] == "long" and g["start"] == 0 for g in r["flows"])
                 for f in r["flows"] if flow_class(f) == cls and f.get("window_model_Bps")]
        if model:
            ax.plot([x], [sum(model) / len(model)], "s", color="tab:red", markerfacecolor="none", markersize=10,
                    label="window model (--sharing window)")
    ax.axhline(1.0, color="grey", linestyle=":", label="max-min")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{s}\n{c}" for s, c in keys], fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("rate / max-min's")
    ax.set_yscale("log")
    ax.set_title("How tbf links split between TCP flows in the lab's namespaces (tcp_split.py; BBR; CUBIC: "
                 "triangles; faint: single flows)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "agent":
        agent(sys.argv[2])
        return
    if len(sys.argv) >= 4 and sys.argv[1] == "plot":
        plot(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="scratch directory (use /dev/shm)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--mbit", type=float, default=40, help="every node's and the seed's rate, both ways")
    parser.add_argument("--piece", type=int, default=256 * 1024, help="bytes of a piece transfer (the lab's piece)")
    parser.add_argument("--bin", type=float, default=0.1, help="seconds per bin of the rate series")
    parser.add_argument("--cc", default="host",
                        help="congestion control of every sending socket (host: the namespaces' default)")
    parser.add_argument("--ss-period", type=float, default=0.2)
    parser.add_argument("--ss-senders", type=int, default=2, help="sample `ss -tin` at the first K senders")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--summary-out", help="also write the runs without their time series (for results/)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("tcp_split.py: needs root (ip netns)")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))
    import lab as labmod  # the distribution lab's topology and shaping, and netlab through it
    netlab = sys.modules["netlab"]
    os.makedirs(args.work, exist_ok=True)
    names = args.scenarios.split(",")
    result = {"config": {"mbit": args.mbit, "piece_bytes": args.piece, "seconds": args.seconds, "cc": args.cc,
                         "shaping": "lab.py: tbf rate MBIT burst 640kbit latency 50ms, each node's eth0 (up) and "
                                    "its bridge port (down)"},
              "load_before": os.getloadavg(), "runs": []}
    with labmod.Lab(23, args.mbit, args.mbit, args.work) as lab:
        # The senders set --cc on their sockets (a namespace's sysctl may not be writable); "host" leaves the
        # namespaces' default, recorded here.
        result["config"]["cc_in_namespaces"] = sorted({netlab.sh(
            "ip", "netns", "exec", lab.seed_ns if i == 0 else lab.node_ns(i), "sysctl", "-n",
            "net.ipv4.tcp_congestion_control", capture=True).strip() for i in range(24)})
        for rep in range(args.repeat):
            for name in names:
                print(f"== {name} ({rep + 1}/{args.repeat})", flush=True)
                record = run_scenario(lab, name, args, netlab)
                record["repeat"] = rep
                record["cc"] = args.cc if args.cc != "host" else ",".join(result["config"]["cc_in_namespaces"])
                record["load_after"] = os.getloadavg()
                report(record)
                result["runs"].append(record)
    with open(args.out, "w") as file:
        json.dump(result, file, indent=1)
    if args.summary_out:
        with open(args.summary_out, "w") as file:
            json.dump(dict(result, runs=[summary(run) for run in result["runs"]]), file, indent=1)


def report(record):
    """Per class of flow (the seed's or a node's, long or piece): measured bytes over max-min's in the bins where
    max-min has it active, and the steady rates of the long flows."""
    classes = {}
    for flow in record["flows"]:
        classes.setdefault(flow_class(flow), []).append(flow)
    for key, flows in sorted(classes.items()):
        ratios = [f["measured_over_max_min"] for f in flows if f["measured_over_max_min"] is not None]
        steady = [f["steady_Bps"] / 1e6 for f in flows if "steady_Bps" in f]
        line = f"   {key:>20} ({len(flows)}): measured / max-min "
        line += f"{min(ratios):.2f}..{max(ratios):.2f}, mean {sum(ratios) / len(ratios):.2f}" if ratios else "-"
        if steady:
            max_min_rates = sorted({round(f["max_min_Bps"] / 1e6, 3) for f in flows if "max_min_Bps" in f})
            model_rates = sorted({round(f["window_model_Bps"] / 1e6, 3) for f in flows if "window_model_Bps" in f})
            line += (f"; steady {min(steady):.3f}..{max(steady):.3f} MB/s (mean {sum(steady) / len(steady):.3f}) "
                     f"against max-min {max_min_rates}, window model {model_rates or '-'}")
        pieces = [d - (f["start"] + k * f["every"]) for f in flows if f["kind"] == "piece"
                  for k, d in enumerate(f["pieces_done_s"])]
        if pieces:
            line += f"; piece times {min(pieces):.2f}..{max(pieces):.2f} s, mean {sum(pieces) / len(pieces):.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
