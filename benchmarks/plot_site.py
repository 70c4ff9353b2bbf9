"""Plot the loader and planner benchmarks (benchmarks/bench-site.sh) from RESULTS/{load,plan}.json."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = sys.argv[1]
load = json.load(open(os.path.join(results, "load.json")))
plan = json.load(open(os.path.join(results, "plan.json")))


def figure(title, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


fig, ax = figure("Site load vs raw libyaml (same bytes, same run)", "nodes in site",
                 "throughput / raw libyaml throughput")
nodes = [r["nodes"] for r in load]
ax.plot(nodes, [r["throughput_ratio"] for r in load], "o-", label="full load, all cores")
ax.plot(nodes, [r["throughput_ratio_one_core"] for r in load], "s--", label="full load, one core")
ax.axhline(0.5, color="red", linestyle=":", label="goal (0.5x raw libyaml)")
ax.axhline(1.0, color="grey", linestyle=":", label="raw libyaml event parse")
ax.set_ylim(0, 1.1)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(results, "load.png"), dpi=100)

fig, ax = figure("Planning vs loading (same run)", "nodes in site", "seconds (best of 3)")
nodes = [r["nodes"] for r in plan]
ax.set_yscale("log")
ax.plot(nodes, [r["load_seconds"] for r in plan], "o-", label="load")
ax.plot(nodes, [r["full_plan_seconds"] for r in plan], "s-", label="plan, first install")
ax.plot(nodes, [r["noop_plan_seconds"] for r in plan], "^-", label="plan, no changes")
ax.plot(nodes, [r["dry_run_seconds"] for r in plan], "k--", label="dry run (load + plan)")
ax.plot(nodes, [r["dry_run_command_seconds"] for r in plan], "k:", label="reconcile --dry-run command")
ax.axhline(2.0, color="red", linestyle=":", label="goal at 100k: 2 s")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(results, "plan.png"), dpi=100)
