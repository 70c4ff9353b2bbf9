"""Runs `reconcile dev swarm-sim` over a series of configurations and the namespace lab beside it.

Usage: series.py --reconcile BIN --out results/swarm-sim.json [--long] [--huge] [--smoke] [--lab-json FILE]
                 [--sharing window]
Each run is one process (its wall time and peak RSS are its own); the JSON holds every configuration with its
result. --lab-json: a distribution-lab JSON (benchmarks/lab/lab.py) with flat and waves runs at N = 4, 8, 16,
simulated with the same file, pieces and rates so that the two can be compared (the `validation` list), each with
max-min sharing (the default) and with `--sharing window`. --validation-only: keep --out's runs, redo the pairs.
--sharing window (opt-in; the committed series is max-min): every series run shares the links as the lab's
window-limited TCP flows do (README, "What the lab's TCP does"); write it to its own --out, not over the default.
"""
import argparse
import json
import os
import subprocess
import time

LAB_RATE = "40Mbit"


def simulate(reconcile, label, args):
    command = [reconcile, "dev", "swarm-sim", "--output", "json"] + args
    started = time.monotonic()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    print(f"{label}: makespan {result['makespan_s']:.2f} s = {result['makespan_s'] / result['bound_p2p_s']:.3f}x "
          f"bound, p50 {result['p50_s'] / result['bound_p2p_s']:.3f}x, "
          f"seed egress {result['seed_egress_over_F']:.2f} F, "
          f"{result['finished']}/{result['survivors']} done, wall {time.monotonic() - started:.1f} s, "
          f"CPU {result.get('cpu_s', 0):.1f} s, "
          f"{result['max_rss_mib']:.0f} MiB", flush=True)
    return {"label": label, "args": args, "result": result}


def datacenter(n, file, step="0.01"):
    """The paper's setting at N peers: 1 GbE nodes and seed, racks of 20 behind 10 GbE uplinks, 1 MiB pieces and
    requests (coarse requests keep 10,000 peers tractable; see the README)."""
    return ["--peers", str(n), "--racks", str(max(1, -(-n // 20))), "--file", file, "--piece", "1M",
            "--request", "1M", "--node-rate", "1Gbit", "--seed-rate", "1Gbit", "--uplink", "10Gbit",
            "--step", step]


def series(long, huge, smoke=False):
    """(label, group, N, args) for every run.

    Default (about a CPU-minute): the data-center setting with a 256 MiB image at N = 16, 64, 256, 1,000, with 10 %
    churn at 256, the 1.5 GB image at 256 with and without 10 % churn, and the lab's setting at N = 16 (flat,
    waves). --long: the 1.5 GB series at N = 16, 64, 1,000, the paper's scenario (230 peers, also in rack waves) and
    10 % churn at 1,000. --huge: 10,000 peers × 1.5 GB. --smoke (`make bench-smoke`): only the lab's setting, flat,
    and the data-center setting at N = 16 with 10 % churn.
    """
    runs = []
    lab = ["--file", "32M", "--piece", "256K", "--node-rate", LAB_RATE, "--seed-rate", LAB_RATE]
    runs.append(("lab-flat-16", "lab-flat", 16, lab + ["--peers", "16", "--racks", "4"]))
    if smoke:
        return runs + [("dc-256M-churn-16", "dc-256M-churn", 16, datacenter(16, "256M") + ["--churn", "0.1"])]
    runs.append(("lab-waves-16", "lab-waves", 16, lab + ["--peers", "16", "--racks", "4", "--first-wave", "1"]))
    for n in (16, 64, 256, 1000):
        runs.append((f"dc-256M-{n}", "dc-256M", n, datacenter(n, "256M")))
    runs.append(("dc-256M-churn-256", "dc-256M-churn", 256, datacenter(256, "256M") + ["--churn", "0.1"]))
    # Churn's fair test: a 5 s absence is 2.3x the 256 MiB bound but 0.4x the 1.5 GB one (about 30 CPU-s).
    runs.append(("dc-1.5G-256", "dc-1.5G", 256, datacenter(256, "1536M")))
    runs.append(("dc-1.5G-churn-256", "dc-1.5G-churn", 256, datacenter(256, "1536M") + ["--churn", "0.1"]))
    if long:
        # The paper's scenario: 230 nodes, 1.5 GB, 1 GbE, racks of 20 behind 10 GbE uplinks.
        paper = datacenter(230, "1536M", step="0.005")
        runs.append(("paper-flat-230", "paper", 230, paper))
        runs.append(("paper-waves-230", "paper-waves", 230, paper + ["--first-wave", "1"]))
        for n in (16, 64, 1000):
            runs.append((f"dc-1.5G-{n}", "dc-1.5G", n, datacenter(n, "1536M")))
        runs.append(("dc-1.5G-churn-1000", "dc-1.5G-churn", 1000, datacenter(1000, "1536M") + ["--churn", "0.1"]))
    if huge:
        runs.append(("dc-1.5G-10000", "dc-1.5G", 10000, datacenter(10000, "1536M")))
    return runs


def validation(reconcile, lab_json):
    lab = json.load(open(lab_json))
    config = lab["config"]
    pairs = []
    for run in lab["runs"]:
        if run["method"] not in ("flat", "waves"):
            continue
        n = run["nodes"]
        args = ["--peers", str(n), "--file", str(config["file_bytes"]), "--piece", config["piece_size"],
                "--node-rate", f"{config['node_mbit']}Mbit", "--seed-rate", f"{config['seed_mbit']}Mbit",
                "--racks", str(max(1, -(-n // config["rack_size"])))]
        if run["method"] == "waves":
            args += ["--first-wave", str(config["first_wave"])]
        sim = simulate(reconcile, f"validate-{run['method']}-{n}", args)["result"]
        # The same run with the links shared as the lab's window-limited TCP flows share them (README, "What the
        # lab's TCP does"): the pairs carry both models.
        window = simulate(reconcile, f"validate-{run['method']}-{n}-window", args + ["--sharing", "window"])["result"]
        pairs.append({"sim_window_makespan_s": window["makespan_s"], "sim_window_p50_s": window["p50_s"],
                      "sim_window_seed_last_byte_s": window["seed_last_byte_s"],"method": run["method"], "nodes": n, "repeat": run.get("repeat", 0),
                      "lab_makespan_s": run["makespan_s"], "lab_p50_s": run["p50_s"],
                      "sim_makespan_s": sim["makespan_s"], "sim_p50_s": sim["p50_s"],
                      "bound_p2p_s": sim["bound_p2p_s"], "lab_cpu_busy": run["cpu_busy_fraction"],
                      "lab_load_after": run.get("load_average_after", [None])[0],
                      "sim_seed_last_byte_s": sim["seed_last_byte_s"],
                      "lab_seed_sent_F_s": seed_sent(run, config["file_bytes"])})
    return pairs


def seed_sent(run, size):
    """When the lab's seed had sent F on the wire (bridge counters, interpolated between the 0.5 s samples of the
    run's timeline; lab.py records one for the largest N), or None."""
    samples = [(s["t"], s["up"][0]) for s in run.get("timeline") or []]
    for (t0, a), (t1, b) in zip(samples, samples[1:]):
        if b >= size:
            return round(t0 + (t1 - t0) * (size - a) / max(1, b - a), 2)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reconcile", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--long", action="store_true", help="add the 1.5 GB series and the paper's scenario")
    parser.add_argument("--huge", action="store_true", help="add 10,000 peers × 1.5 GB")
    parser.add_argument("--smoke", action="store_true", help="two small runs only (make bench-smoke)")
    parser.add_argument("--lab-json")
    parser.add_argument("--sharing", choices=["max-min", "window"], default="max-min",
                        help="how the series runs share links (the validation pairs run both anyway)")
    parser.add_argument("--validation-only", action="store_true", help="keep --out's series, redo the lab pairs")
    args = parser.parse_args()
    document = {"runs": [], "validation": []}
    if args.validation_only:
        document["runs"] = json.load(open(args.out))["runs"]
    for label, group, n, run_args in [] if args.validation_only else series(args.long, args.huge, args.smoke):
        if args.sharing != "max-min":
            run_args = run_args + ["--sharing", args.sharing]
        record = simulate(args.reconcile, label, run_args)
        record.update({"group": group, "peers": n})
        document["runs"].append(record)
    if args.lab_json:
        document["validation"] = validation(args.reconcile, args.lab_json)
    elif os.path.exists(args.out):
        # No lab this time (not root, or BENCH_SIM_LAB=0): keep the last validation pairs, dated in the README.
        document["validation"] = json.load(open(args.out)).get("validation", [])
    with open(args.out, "w") as out:
        json.dump(document, out, indent=1)


if __name__ == "__main__":
    main()
