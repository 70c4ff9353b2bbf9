"""Plots and Markdown tables from the simulator series (benchmarks/sim/series.py's JSON).

Usage: report.py RESULTS.json OUT_DIR [README.md]
Writes OUT_DIR/swarm-sim.png (makespan and p50 / T_p2p against N for the data-center series, the other runs as
stars; seed egress / F against N; with validation pairs, lab against simulator at each N); prints the tables and,
given README.md, replaces the part between the swarm-sim-table markers.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results_path, out_dir = sys.argv[1], sys.argv[2]
readme = sys.argv[3] if len(sys.argv) > 3 else None
data = json.load(open(results_path))



def cpu(result):
    """The run's CPU seconds ('–' in results written before they were recorded)."""
    return "–" if result.get("cpu_s") is None else f"{result['cpu_s']:.1f} s"


lines = ["| run | N | makespan / T_p2p | p50 / T_p2p | p99 / T_p2p | T_p2p | survivors' makespan / their bound "
         "(/ T_p2p of the survivors alone) | seed egress / F | max uplink / F | duplicate blocks | done | CPU "
         "| memory |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for run in data["runs"]:
    r = run["result"]
    b = r["bound_p2p_s"]
    uplink = max(r["uplink_bytes_over_F"]) if r["uplink_bytes_over_F"] else None
    churned = r.get("killed", 0) > 0
    # Results before session 11 have no `bound_survivors_p2p_s`: their `bound_survivors_s` was that bound.
    alone = r.get("bound_survivors_p2p_s", r["bound_survivors_s"])
    survivors = (f"{r['makespan_s'] / r['bound_survivors_s']:.3f} ({r['makespan_s'] / alone:.3f})" if churned
                 else "–")
    lines.append(f"| {run['label']} | {run['peers']} | {r['makespan_s'] / b:.3f} | {r['p50_s'] / b:.3f} | "
                 f"{r['p99_s'] / b:.3f} | {b:.2f} s | {survivors} | {r['seed_egress_over_F']:.2f} | "
                 f"{'–' if uplink is None else f'{uplink:.2f}'} | {r['duplicate_blocks']} | "
                 f"{r['finished']}/{r['survivors']} | {cpu(r)} | {r['max_rss_mib']:.0f} MiB |")
table = "\n".join(lines)
if data.get("validation"):
    rows = ["| method | N | lab makespan | sim makespan: max-min / window | sim / lab: max-min / window | lab p50 "
            "| sim p50: max-min / window | sim / lab: max-min / window | lab CPU busy | load "
            "| seed sent F: lab / sim max-min / window |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]

    def pair(v, key, unit=" s", digits=2):
        """The max-min figure and, when the pair has it, the window-sharing one."""
        both = [v[f"sim_{key}"]] + ([v[f"sim_window_{key}"]] if f"sim_window_{key}" in v else [])
        return " / ".join(f"{x:.{digits}f}{unit}" for x in both)

    def ratio(v, key):
        lab = v[f"lab_{key}"]
        both = [v[f"sim_{key}"]] + ([v[f"sim_window_{key}"]] if f"sim_window_{key}" in v else [])
        return " / ".join(f"{x / lab:.3f}" for x in both)

    for v in data["validation"]:
        load = v.get("lab_load_after")
        seed = (f"{v['lab_seed_sent_F_s']:.2f} s / {pair(v, 'seed_last_byte_s')}"
                if v.get("lab_seed_sent_F_s") is not None else "–")
        rows.append(f"| {v['method']} | {v['nodes']} | {v['lab_makespan_s']:.2f} s | {pair(v, 'makespan_s')} | "
                    f"{ratio(v, 'makespan_s')} | {v['lab_p50_s']:.2f} s | {pair(v, 'p50_s')} | "
                    f"{ratio(v, 'p50_s')} | {v['lab_cpu_busy']:.0%} | "
                    f"{'–' if load is None else f'{load:.1f}'} | {seed} |")
    table += "\n\nValidation against the namespace lab (same N, file, pieces and rates):\n\n" + "\n".join(rows)
print(table)

valid = data.get("validation") or []
fig, axes = plt.subplots(1, 3 if valid else 2, figsize=(16 if valid else 11, 4.2))
series_groups = sorted({r["group"] for r in data["runs"] if r["group"].startswith("dc-") and "churn" not in r["group"]})
for group, marker in zip(series_groups, "osd^v"):
    runs = sorted((r for r in data["runs"] if r["group"] == group), key=lambda r: r["peers"])
    xs = [r["peers"] for r in runs]
    line, = axes[0].plot(xs, [r["result"]["makespan_s"] / r["result"]["bound_p2p_s"] for r in runs], marker + "-",
                         label=f"{group} makespan")
    axes[0].plot(xs, [r["result"]["p50_s"] / r["result"]["bound_p2p_s"] for r in runs], marker + ":",
                 color=line.get_color(), alpha=0.5, label=f"{group} p50")
    axes[1].plot(xs, [r["result"]["seed_egress_over_F"] for r in runs], marker + "-", color=line.get_color(),
                 label=group)
for run in data["runs"]:
    if run["group"] not in series_groups:
        r = run["result"]
        bound = r["bound_survivors_s"] if r.get("killed", 0) else r["bound_p2p_s"]
        axes[0].plot([run["peers"]], [r["makespan_s"] / bound], "k*", markersize=8)
        axes[0].annotate(run["label"], (run["peers"], r["makespan_s"] / bound), fontsize=6)
axes[0].set_xscale("log")
axes[0].axhline(1.0, color="grey", linestyle=":")
axes[0].axhline(1.3, color="red", linestyle=":", label="goal 1.3×")
axes[0].set_xlabel("peers N")
axes[0].set_ylabel("time / T_p2p (churn: survivors' bound)")
axes[0].set_title("Simulated makespan and p50 against the bound")
axes[0].legend(fontsize=7)
axes[1].set_xscale("log")
axes[1].axhline(1.2, color="red", linestyle=":", label="goal 1.2 F")
axes[1].set_ylim(0.9, max(1.5, max((r["result"]["seed_egress_over_F"] for r in data["runs"]), default=1) + 0.1))
axes[1].set_xlabel("peers N")
axes[1].set_ylabel("seed egress / F")
axes[1].set_title("What the seed sent")
axes[1].legend(fontsize=7)
if valid:
    for method, style in (("flat", "o"), ("waves", "s")):
        vs = sorted((v for v in valid if v["method"] == method), key=lambda v: v["nodes"])
        axes[2].plot([v["nodes"] for v in vs], [v["lab_makespan_s"] / v["bound_p2p_s"] for v in vs], style + "-",
                     label=f"lab {method} makespan")
        axes[2].plot([v["nodes"] for v in vs], [v["sim_makespan_s"] / v["bound_p2p_s"] for v in vs], style + "--",
                     label=f"sim {method} makespan (max-min)")
        if all("sim_window_makespan_s" in v for v in vs):
            axes[2].plot([v["nodes"] for v in vs], [v["sim_window_makespan_s"] / v["bound_p2p_s"] for v in vs],
                         style + ":", label=f"sim {method} makespan (window)")
    axes[2].set_xlabel("peers N")
    axes[2].set_ylabel("makespan / T_p2p")
    axes[2].set_title("Lab against simulator")
    axes[2].legend(fontsize=7)
fig.tight_layout()
fig.savefig(f"{out_dir}/swarm-sim.png", dpi=110)

if readme:
    text = open(readme).read()
    begin, end = "<!-- swarm-sim-table:begin -->", "<!-- swarm-sim-table:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        open(readme, "w").write(head + begin + "\n" + table + "\n" + end + tail)
