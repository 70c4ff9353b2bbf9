"""Plots and a Markdown table from the distribution lab's JSON (benchmarks/results/distribution.json).

Usage: report.py RESULTS.json OUT_DIR [README.md]
Writes OUT_DIR/distribution.png (elapsed vs N with the P2P and client-server bounds), OUT_DIR/distribution-rates.png
(per-node download and upload rate over time for the largest N, a dot where each node starts uploading) and
OUT_DIR/distribution-egress.png (seed egress / F); prints the table and, given README.md, replaces the part between
the distribution markers with it.
"""
import json
import statistics
import sys

results_path, out_dir = sys.argv[1], sys.argv[2]
readme = sys.argv[3] if len(sys.argv) > 3 else None
data = json.load(open(results_path))
F = data["config"]["file_bytes"]
bounds = {int(n): b for n, b in data["bounds"].items()}
methods = [m for m in data["config"]["methods"] if any(r["method"] == m for r in data["runs"])]


def best(method, n):
    """The median-makespan repeat of one method at one N (or None)."""
    runs = sorted((r for r in data["runs"] if r["method"] == method and r["nodes"] == n), key=lambda r: r["makespan_s"])
    return runs[len(runs) // 2] if runs else None


sizes = sorted(bounds)
rows = []
for method in methods:
    base = best(method, 1)
    for n in sizes:
        r = best(method, n)
        if r is None:
            continue
        t = bounds[n]["t_p2p_s"]
        down = r.get("nodes_download_bytes")
        if down is None and r.get("timeline"):
            down = sum(r["timeline"][-1]["down"][1:])
        engine = [e for k, e in (r.get("engine") or {}).items() if k != "0" and e]
        dup = statistics.mean(e["duplicate_blocks"] * 16384 / F for e in engine) if engine else None
        rows.append((method, n, r["p50_s"] / t, r["makespan_s"] / t,
                     r["makespan_s"] / base["makespan_s"] if base else float("nan"),
                     r["seed_egress_bytes"] / F, down / (n * F) if down is not None else None, dup,
                     r["cpu_busy_fraction"]))
cfg = data["config"]
table = [
    f"File {F / 2**20:.0f} MiB, {cfg['piece_size']} pieces, every link capped at {cfg['node_mbit']:g} Mbit/s both ways "
    f"(seed {cfg['seed_mbit']:g} Mbit/s), racks of {cfg['rack_size']} with first wave {cfg['first_wave']} "
    f"(the rest of a rack starts at the first wave's {cfg.get('wave_start', 'complete').replace('-', ' ')}), "
    f"{cfg['cores']} cores. Ratios against T_p2p = max(F/u_s, F/d_min, N·F/(u_s+Σu_i)) with nominal link rates. "
    "Bytes in per node counts link-level bytes (headers: ~1.04 F is a clean transfer); duplicate blocks per node "
    "is what rackswarm's engine counted (received twice or after a cancel). CPU busy is the whole machine's, other "
    "builds included.",
    "",
    "| method | N | p50 / T_p2p | makespan / T_p2p | T(N)/T(1) | seed egress / F | bytes in per node / F "
    "| duplicate blocks per node / F | CPU busy |",
    "|---|---|---|---|---|---|---|---|---|",
]
for method, n, p50, mk, scale, egress, down, dup, cpu in rows:
    down_text = f"{down:.2f}" if down is not None else "–"
    dup_text = f"{dup:.3f}" if dup is not None else "–"
    table.append(f"| {method} | {n} | {p50:.2f} | {mk:.2f} | {scale:.2f} | {egress:.2f} | {down_text} | {dup_text} "
                 f"| {cpu:.0%} |")
if data.get("failures"):
    table.append("")
    table += [f"- FAILED {f['method']} N={f['nodes']}: {f['error'][:160]}" for f in data["failures"]]
text = "\n".join(table)
print(text)
if readme:
    begin, end = "<!-- distribution:begin -->", "<!-- distribution:end -->"
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
fig.savefig(f"{out_dir}/distribution.png", dpi=110)

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
fig.savefig(f"{out_dir}/distribution-egress.png", dpi=110)

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
    fig.savefig(f"{out_dir}/distribution-rates.png", dpi=100)
