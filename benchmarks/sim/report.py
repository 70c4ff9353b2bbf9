"""Plots and Markdown tables from the simulator series (benchmarks/sim/series.py's JSON).

Usage: report.py RESULTS.json OUT_DIR [README.md]
Writes OUT_DIR/swarm-sim.png (makespan / T_p2p and p50 / T_p2p against N, flat, waves and churn, the paper's
scenario and the data-center runs) and, with validation pairs, OUT_DIR/swarm-sim-validation.png (lab against
simulator at each N); prints the tables and, given README.md, replaces the part between the swarm-sim markers.
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


lines = ["| run | N | makespan / T_p2p | p50 / T_p2p | p99 / T_p2p | T_p2p | seed egress / F | max uplink / F "
         "| duplicate blocks | done | wall | CPU | memory |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for run in data["runs"]:
    r = run["result"]
    b = r["bound_p2p_s"]
    uplink = max(r["uplink_bytes_over_F"]) if r["uplink_bytes_over_F"] else None
    lines.append(f"| {run['label']} | {run['peers']} | {r['makespan_s'] / b:.3f} | {r['p50_s'] / b:.3f} | "
                 f"{r['p99_s'] / b:.3f} | {b:.2f} s | {r['seed_egress_over_F']:.2f} | "
                 f"{'–' if uplink is None else f'{uplink:.2f}'} | {r['duplicate_blocks']} | "
                 f"{r['finished']}/{r['survivors']} | {r['wall_s']:.1f} s | "
                 f"{cpu(r)} | {r['max_rss_mib']:.0f} MiB |")
table = "\n".join(lines)
if data.get("validation"):
    rows = ["| method | N | lab makespan | sim makespan | sim / lab | lab p50 | sim p50 | sim / lab | lab CPU busy |",
            "|---|---|---|---|---|---|---|---|---|"]
    for v in data["validation"]:
        rows.append(f"| {v['method']} | {v['nodes']} | {v['lab_makespan_s']:.2f} s | {v['sim_makespan_s']:.2f} s | "
                    f"{v['sim_makespan_s'] / v['lab_makespan_s']:.3f} | {v['lab_p50_s']:.2f} s | "
                    f"{v['sim_p50_s']:.2f} s | {v['sim_p50_s'] / v['lab_p50_s']:.3f} | {v['lab_cpu_busy']:.0%} |")
    table += "\n\nValidation against the namespace lab (same N, file, pieces and rates):\n\n" + "\n".join(rows)
print(table)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for group, style in (("flat", "o-"), ("waves", "s-"), ("churn", "^-")):
    runs = sorted((r for r in data["runs"] if r["group"] == group), key=lambda r: r["peers"])
    if runs:
        xs = [r["peers"] for r in runs]
        axes[0].plot(xs, [r["result"]["makespan_s"] / r["result"]["bound_p2p_s"] for r in runs], style,
                     label=f"{group} makespan")
        axes[0].plot(xs, [r["result"]["p50_s"] / r["result"]["bound_p2p_s"] for r in runs], style, alpha=0.4,
                     label=f"{group} p50")
for run in data["runs"]:
    if run["group"] in ("paper", "paper-waves", "dc"):
        r = run["result"]
        axes[0].plot([run["peers"]], [r["makespan_s"] / r["bound_p2p_s"]], "k*", markersize=10)
        axes[0].annotate(run["label"], (run["peers"], r["makespan_s"] / r["bound_p2p_s"]), fontsize=7)
axes[0].set_xscale("log")
axes[0].axhline(1.0, color="grey", linestyle=":")
axes[0].axhline(1.3, color="red", linestyle=":", label="goal 1.3×")
axes[0].set_xlabel("peers N")
axes[0].set_ylabel("time / T_p2p")
axes[0].set_title("Simulated makespan and p50 against the bound")
axes[0].legend(fontsize=7)
valid = data.get("validation") or []
if valid:
    for method, style in (("flat", "o"), ("waves", "s")):
        vs = sorted((v for v in valid if v["method"] == method), key=lambda v: v["nodes"])
        axes[1].plot([v["nodes"] for v in vs], [v["lab_makespan_s"] / v["bound_p2p_s"] for v in vs], style + "-",
                     label=f"lab {method} makespan")
        axes[1].plot([v["nodes"] for v in vs], [v["sim_makespan_s"] / v["bound_p2p_s"] for v in vs], style + "--",
                     label=f"sim {method} makespan")
    axes[1].set_xlabel("peers N")
    axes[1].set_ylabel("makespan / T_p2p")
    axes[1].set_title("Lab against simulator")
    axes[1].legend(fontsize=7)
else:
    axes[1].axis("off")
fig.tight_layout()
fig.savefig(f"{out_dir}/swarm-sim.png", dpi=110)

if readme:
    text = open(readme).read()
    begin, end = "<!-- swarm-sim:begin -->", "<!-- swarm-sim:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        open(readme, "w").write(head + begin + "\n" + table + "\n" + end + tail)
