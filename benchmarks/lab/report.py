"""Plots and a Markdown table from the distribution lab's JSON (benchmarks/results/distribution*.json).

Usage: report.py RESULTS.json OUT_DIR [README.md]
STEM is RESULTS.json's name without `.json` (`distribution`, `distribution-128`, …). Writes OUT_DIR/STEM.png
(elapsed vs N with the P2P and client-server bounds), OUT_DIR/STEM-rates.png (per-node download and upload rate
over time for the largest N, a dot where each node starts uploading) and OUT_DIR/STEM-egress.png (seed egress / F);
prints the table and, given README.md, replaces the part between the `<!-- STEM:begin -->` and `<!-- STEM:end -->`
markers with it. A file with `series` (several lab runs under different settings, each with its `label`; what
bench-distribution.sh writes for the uplink comparison) gets one table with a setting column, and STEM.png shows
each setting's makespan and the bytes that crossed each rack's uplink.
"""
import json
import os
import statistics
import sys

results_path, out_dir = sys.argv[1], sys.argv[2]
readme = sys.argv[3] if len(sys.argv) > 3 else None
stem = os.path.basename(results_path).removesuffix(".json")
top = json.load(open(results_path))
series = top["series"] if "series" in top else [dict(top, label="")]
data = series[0]
F = data["config"]["file_bytes"]


def best_of(doc, method, n):
    """The median-makespan repeat of one method at one N in one lab document (or None)."""
    runs = sorted((r for r in doc["runs"] if r["method"] == method and r["nodes"] == n), key=lambda r: r["makespan_s"])
    return runs[len(runs) // 2] if runs else None


def extra_columns(r, t):
    """CPU-s of the run's processes, load average, the uplinks, churn: the columns that only some runs have."""
    cells = {}
    if "cpu_s_processes" in r:
        cells["CPU-s (processes)"] = f"{r['cpu_s_processes']:.1f}"
        cells["load"] = f"{r['load_average_before'][0]:.1f}–{r['load_average_after'][0]:.1f}"
    if r.get("uplink_over_F_by_rack"):
        values = list(r["uplink_over_F_by_rack"].values())
        cells["uplink / F per rack (max, mean)"] = f"{max(values):.2f}, {statistics.mean(values):.2f}"
    churn = r.get("churn")
    if churn:
        killed = churn["killed"].values()
        back = [e for e in killed if e["returns"]]
        cells["killed / back"] = f"{len(churn['killed'])} / {len(back)}"
        cells["survivors' makespan / their bound"] = f"{churn['makespan_over_bound_survivors']:.2f}"
        if "makespan_never_killed_s" in churn:
            cells["never killed: makespan / T_p2p"] = f"{churn['makespan_never_killed_s'] / t:.2f}"
        cells["returner: pieces found on disk, in / lacking"] = "; ".join(
            f"{e['pieces_rechecked_valid']}/{e['pieces']}, {e['in_over_lacking']:.2f}" for e in back) or "–"
    return cells


rows = []
for doc in series:
    bounds = {int(n): b for n, b in doc["bounds"].items()}
    methods = [m for m in doc["config"]["methods"] if any(r["method"] == m for r in doc["runs"])]
    for method in methods:
        base = best_of(doc, method, 1)
        for n in sorted(bounds):
            r = best_of(doc, method, n)
            if r is None:
                continue
            t = bounds[n]["t_p2p_s"]
            down = r.get("nodes_download_bytes")
            if down is None and r.get("timeline"):
                down = sum(r["timeline"][-1]["down"][1:])
            engine = [e for k, e in (r.get("engine") or {}).items() if k != "0" and e]
            dup = statistics.mean(e["duplicate_blocks"] * 16384 / F for e in engine) if engine else None
            cells = {"setting": doc["label"], "method": method, "N": str(n), "p50 / T_p2p": f"{r['p50_s'] / t:.2f}",
                     "makespan / T_p2p": f"{r['makespan_s'] / t:.2f}",
                     "T(N)/T(1)": f"{r['makespan_s'] / base['makespan_s']:.2f}" if base else "–",
                     "seed egress / F": f"{r['seed_egress_bytes'] / F:.2f}",
                     "bytes in per node / F": f"{down / (n * F):.2f}" if down is not None else "–",
                     "duplicate blocks per node / F": f"{dup:.3f}" if dup is not None else "–",
                     "CPU busy": f"{r['cpu_busy_fraction']:.0%}"}
            cells.update(extra_columns(r, t))
            rows.append(cells)
columns = [c for c in dict.fromkeys(k for row in rows for k in row) if any(row.get(c) for row in rows)]
cfg = data["config"]
racks = f"racks of {cfg['rack_size']} with first wave {cfg['first_wave']} " \
        f"(the rest of a rack starts at the first wave's {cfg.get('wave_start', 'complete').replace('-', ' ')})"
if cfg.get("uplink_mbit"):
    racks += f", each rack behind an uplink capped at {cfg['uplink_mbit']:g} Mbit/s both ways (seed on the core)"
if cfg.get("churn"):
    racks += (f"; churn: {cfg['churn']:.0%} of the leechers SIGKILLed at random times (seed {cfg['churn_seed']}), "
              f"{cfg['churn_return']:.0%} of those back after {cfg['churn_delay_s']:g} s on their partial file")
table = [
    f"File {F / 2**20:.0f} MiB, {cfg['piece_size']} pieces, every link capped at {cfg['node_mbit']:g} Mbit/s both ways "
    f"(seed {cfg['seed_mbit']:g} Mbit/s), {racks}, "
    f"{cfg['cores']} cores. Ratios against T_p2p = max(F/u_s, F/d_min, N·F/(u_s+Σu_i)) with nominal link rates. "
    "Bytes in per node counts link-level bytes (headers: ~1.04 F is a clean transfer); duplicate blocks per node "
    "is what rackswarm's engine counted (received twice or after a cancel). CPU busy is the whole machine's, other "
    "builds included; CPU-s is the run's own processes (seed, tracker, peers; not curl or udp-receiver, which exit "
    "when done); load is the 1-minute load average before and after the run.",
    "",
    "| " + " | ".join(columns) + " |",
    "|" + "---|" * len(columns),
]
for row in rows:
    table.append("| " + " | ".join(row.get(c, "–") for c in columns) + " |")
failures = [(doc["label"], f) for doc in series for f in doc.get("failures", [])]
if failures:
    table.append("")
    table += [f"- FAILED {label} {f['method']} N={f['nodes']}: {f['error'][:160]}" for label, f in failures]
text = "\n".join(table)
print(text)
if readme:
    begin, end = f"<!-- {stem}:begin -->", f"<!-- {stem}:end -->"
    body = open(readme).read()
    if begin in body and end in body:
        body = body[:body.index(begin) + len(begin)] + "\n" + text + "\n" + body[body.index(end):]
        open(readme, "w").write(body)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib missing: no PNG", file=sys.stderr)
    sys.exit(0)

if len(series) > 1:
    # One bar group per setting: makespan / T_p2p, and the largest and mean rack uplink / F.
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels, makespans, peaks, means = [], [], [], []
    for doc in series:
        for r in doc["runs"]:
            labels.append(doc["label"].replace(", ", "\n") + f"\n{r['method']} N={r['nodes']}")
            makespans.append(r["makespan_s"] / doc["bounds"][str(r["nodes"])]["t_p2p_s"])
            values = list((r.get("uplink_over_F_by_rack") or {"-": 0}).values())
            peaks.append(max(values))
            means.append(statistics.mean(values))
    xs = range(len(labels))
    left.bar(xs, makespans)
    left.set_ylabel("makespan / T_p2p")
    right.bar([x - 0.2 for x in xs], peaks, 0.4, label="largest rack")
    right.bar([x + 0.2 for x in xs], means, 0.4, label="mean over racks")
    right.axhline(1.2, color="black", linestyle="--", linewidth=1, label="goal 1.2 F")
    right.set_ylabel("bytes over a rack's uplink / F")
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.set_xticks(list(xs), labels, fontsize=6)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{stem}.png", dpi=110)
    sys.exit(0)

bounds = {int(n): b for n, b in data["bounds"].items()}
sizes = sorted(bounds)
methods = [m for m in cfg["methods"] if any(r["method"] == m for r in data["runs"])]


def best(method, n):
    return best_of(data, method, n)


fig, ax = plt.subplots(figsize=(8, 5))
for method in methods:
    pts = [(n, best(method, n)) for n in sizes if best(method, n)]
    ax.plot([n for n, _ in pts], [r["makespan_s"] for _, r in pts], marker="o", label=f"{method} makespan")
    ax.plot([n for n, _ in pts], [r["p50_s"] for _, r in pts], marker=".", linestyle=":", alpha=0.6,
            label=f"{method} p50")
ax.plot(sizes, [bounds[n]["t_p2p_s"] for n in sizes], color="black", linewidth=2, label="P2P bound")
ax.plot(sizes, [bounds[n]["t_cs_s"] for n in sizes], color="gray", linestyle="--", label="client-server bound")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("nodes N")
ax.set_ylabel("seconds")
ax.set_title(f"{F / 2**20:.0f} MiB to N nodes, {cfg['node_mbit']:g} Mbit/s links")
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
fig.savefig(f"{out_dir}/{stem}.png", dpi=110)

fig, ax = plt.subplots(figsize=(8, 4))
width = 0.8 / max(1, len(methods))
for k, method in enumerate(methods):
    xs = [i + k * width for i, n in enumerate(sizes) if best(method, n)]
    ys = [best(method, n)["seed_egress_bytes"] / F for n in sizes if best(method, n)]
    ax.bar(xs, ys, width, label=method)
ax.set_xticks([i + 0.4 - width / 2 for i in range(len(sizes))], [str(n) for n in sizes])
ax.set_xlabel("nodes N")
ax.set_ylabel("seed egress / F")
ax.set_yscale("log", base=2)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{out_dir}/{stem}-egress.png", dpi=110)

largest = max(sizes)
with_timeline = [m for m in methods if best(m, largest) and best(m, largest).get("timeline")]
if with_timeline:
    fig, axes = plt.subplots(len(with_timeline), 2, figsize=(11, 2.6 * len(with_timeline)), squeeze=False)
    for row, method in enumerate(with_timeline):
        tl = best(method, largest)["timeline"]
        for col, key in enumerate(("down", "up")):
            ax = axes[row][col]
            for i in range(1, largest + 1):
                ts = [s["t"] for s in tl]
                vals = [s[key][i] for s in tl]
                rates = [(vals[j] - vals[j - 1]) * 8 / 1e6 / max(1e-3, ts[j] - ts[j - 1]) for j in range(1, len(ts))]
                ax.plot(ts[1:], rates, linewidth=0.7)
                if key == "up":
                    # The percent downloaded when the node first uploads more than 1 Mbit/s.
                    for j, rate in enumerate(rates):
                        if rate > 1:
                            pct = 100 * tl[j + 1]["down"][i] / F
                            ax.plot([ts[j + 1]], [rate], "k.", markersize=4)
                            ax.annotate(f"{pct:.0f}%", (ts[j + 1], rate), fontsize=5)
                            break
            ax.set_title(f"{method}, N={largest}: per-node {'download' if key == 'down' else 'upload'}", fontsize=8)
            ax.set_ylabel("Mbit/s", fontsize=7)
            ax.set_xlabel("s", fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{stem}-rates.png", dpi=100)
