"""Plot the loader benchmark: throughput ratio to raw libyaml per site size, with the 0.5 goal."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = json.load(open(sys.argv[1]))
nodes = [r["nodes"] for r in results]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(nodes, [r["throughput_ratio"] for r in results], "o-", label="full load, all cores")
ax.plot(nodes, [r["throughput_ratio_one_core"] for r in results], "s--", label="full load, one core")
ax.axhline(0.5, color="red", linestyle=":", label="goal (0.5x raw libyaml)")
ax.axhline(1.0, color="grey", linestyle=":", label="raw libyaml event parse")
ax.set_xscale("log")
ax.set_ylim(0, 1.1)
ax.set_xlabel("nodes in site")
ax.set_ylabel("throughput / raw libyaml throughput")
ax.set_title("Site load vs raw libyaml (same bytes, same run)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
