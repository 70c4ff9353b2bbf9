"""Plot the state-store scale benchmark (benchmarks/bench-scale.sh) from RESULTS/scale.json."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = sys.argv[1]
scale = json.load(open(os.path.join(results, "scale.json")))
nodes = [r["nodes"] for r in scale]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for store, style in (("sqlite", "o-"), ("postgresql", "s--")):
    left.plot(nodes, [r[store]["first_install_journal_seconds"] for r in scale], style,
              label=f"{store}: first-install journal writes")
    left.plot(nodes, [r[store]["noop_pass_seconds"] for r in scale], style, alpha=0.5,
              label=f"{store}: no-op pass (reads + plan)")
left.set_xscale("log")
left.set_yscale("log")
left.set_xlabel("nodes in site")
left.set_ylabel("seconds")
left.set_title("State store work per pass")
left.legend(fontsize=7)
right.bar([str(n) for n in nodes], [r["first_install_journal_ratio_pg_to_sqlite"] for r in scale], width=0.35,
          label="first-install journal", align="edge")
right.bar([str(n) for n in nodes], [r["noop_pass_ratio_pg_to_sqlite"] for r in scale], width=-0.35,
          label="no-op pass", align="edge")
right.axhline(1.0, color="grey", linestyle=":")
right.set_ylabel("PostgreSQL time / SQLite time")
right.set_title("Ratio, same run (3 reconcilers: %s writes/s)" % ", ".join(
    "%.0f" % (r["journal_transitions_per_second_3_reconcilers"] or 0) for r in scale))
right.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(results, "scale.png"), dpi=110)
