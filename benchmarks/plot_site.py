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

fig, (ax, cmd, mem) = plt.subplots(1, 3, figsize=(16, 4.5))
nodes = [r["nodes"] for r in plan]
for axis in (ax, cmd, mem):
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("nodes in site")
ax.set_title("In process: planning vs loading (best of 3)")
ax.set_ylabel("seconds")
ax.plot(nodes, [r["load_seconds"] for r in plan], "o-", label="load")
ax.plot(nodes, [r["full_plan_seconds"] for r in plan], "s-", label="plan, first install")
ax.plot(nodes, [r["noop_plan_seconds"] for r in plan], "^-", label="plan, no changes")
ax.plot(nodes, [r["dry_run_seconds"] for r in plan], "k--", label="load + plan")
ax.legend(fontsize=8)

# Whole commands as an operator runs them, each with its budget (scaled below 100k) as a line of its colour.
with_commands = [r for r in plan if "commands" in r]
cmd.set_title("Whole commands (process start to exit) vs budget")
cmd.set_ylabel("seconds (dotted: budget)")
mem.set_title("Dry runs: peak resident memory vs budget")
mem.set_ylabel("MB (dotted: budget)")
if with_commands:
    sizes = [r["nodes"] for r in with_commands]
    names = list(with_commands[0]["commands"].keys())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, name in enumerate(names):
        colour = colours[index % len(colours)]
        entries = [r["commands"][name] for r in with_commands]
        cmd.plot(sizes, [e["seconds"] for e in entries], "o-", color=colour, label=name)
        cmd.plot(sizes, [e["budget_seconds"] for e in entries], ":", color=colour)
        if "budget_peak_rss_mb" in entries[0]:
            mem.plot(sizes, [e["peak_rss_mb"] for e in entries], "o-", color=colour, label=name)
            mem.plot(sizes, [e["budget_peak_rss_mb"] for e in entries], ":", color=colour)
        for size, entry in zip(sizes, entries):
            if entry["over_budget"]:
                cmd.annotate("over", (size, entry["seconds"]), fontsize=7, color=colour)
    cmd.legend(fontsize=7)
    mem.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(results, "plan.png"), dpi=100)
