"""Plot the planner benchmark: load, full plan and no-op plan times per site size."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = json.load(open(sys.argv[1]))
nodes = [r["nodes"] for r in results]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(nodes, [r["load_seconds"] for r in results], "o-", label="load")
ax.plot(nodes, [r["full_plan_seconds"] for r in results], "s-", label="plan, first install")
ax.plot(nodes, [r["noop_plan_seconds"] for r in results], "^-", label="plan, no changes")
ax.plot(nodes, [r["dry_run_seconds"] for r in results], "k--", label="dry run (load + plan)")
ax.axhline(2.0, color="red", linestyle=":", label="goal at 100k: 2 s")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("nodes in site")
ax.set_ylabel("seconds (best of 3)")
ax.set_title("Planning vs loading (same run)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
