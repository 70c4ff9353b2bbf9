"""The whole-command budgets of issue 22, and the record bench-site.sh keeps of each size.

    site_budgets.py NODES PLAN VALIDATE TEXT JSON STATUS CONSOLE
        Merges the in-process plan figures (PLAN, JSON) with the command timings (time_command.py's JSON) into one
        record with each command's budget at NODES and the machine's load average, and prints it as one JSON line.
    site_budgets.py --report < RECORD
        Prints one line per command: the figure, its budget, and OVER BUDGET when it is over (and its instruction
        count when the record has one).
    site_budgets.py --counts NAME JSON [NAME JSON ...]
        Gathers `time_command.py instructions` outputs into one JSON object of command name to instructions; a
        console's output (per path) becomes console_site_page and console_api_site.
    site_budgets.py --with-instructions COUNTS < RECORD
        Prints RECORD with COUNTS (from --counts) under "instructions".

Budgets at 100,000 nodes: dry runs (text and JSON) 2 s and 400 MB peak RSS, validate 1.5 s, status with a full
store 1 s, the console's site page and /api/v1/site 0.5 s. Smaller sites get the same budgets scaled by
NODES / 100,000, never below a floor: 50 ms and 40 MB for a process (start-up alone costs that), 10 ms for a
request to a server already up.
"""
import json
import os
import sys

FULL = 100_000
PROCESS_FLOOR_SECONDS = 0.05
PROCESS_FLOOR_MB = 40
REQUEST_FLOOR_SECONDS = 0.01
BUDGETS = {  # command: (seconds at 100k, peak MB at 100k or None)
    "validate": (1.5, None),
    "dry_run_text": (2.0, 400),
    "dry_run_json": (2.0, 400),
    "status_full_store": (1.0, None),
    "console_site_page": (0.5, None),
    "console_api_site": (0.5, None),
}


def budget(name, nodes):
    seconds, megabytes = BUDGETS[name]
    floor = REQUEST_FLOOR_SECONDS if name.startswith("console") else PROCESS_FLOOR_SECONDS
    scaled_seconds = max(floor, seconds * nodes / FULL)
    scaled_mb = None if megabytes is None else max(PROCESS_FLOOR_MB, megabytes * nodes / FULL)
    return scaled_seconds, scaled_mb


def merge(nodes, plan, validate, text, json_run, status, console):
    record = json.loads(plan)
    console_run = json.loads(console)
    pages = console_run["pages"]
    # How many nodes the store write before each timed console request changed (the console patches them in).
    record["console_touched_nodes"] = console_run.get("touched_nodes", 0)
    runs = {
        "validate": json.loads(validate),
        "dry_run_text": json.loads(text),
        "dry_run_json": json.loads(json_run),
        "status_full_store": json.loads(status),
        "console_site_page": pages["/"],
        "console_api_site": pages["/api/v1/site"],
    }
    commands = {}
    for name, run in runs.items():
        seconds, megabytes = budget(name, nodes)
        entry = {"seconds": run["seconds"], "budget_seconds": seconds}
        if "cached_seconds" in run:
            entry["cached_seconds"] = run["cached_seconds"]
        if "peak_rss_mb" in run:
            entry["peak_rss_mb"] = run["peak_rss_mb"]
        if megabytes is not None:
            entry["budget_peak_rss_mb"] = megabytes
        entry["over_budget"] = run["seconds"] > seconds or (
            megabytes is not None and run.get("peak_rss_mb", 0) > megabytes)
        commands[name] = entry
    record["commands"] = commands
    # On a shared machine wall times follow the load: each record says what it was when the commands had run.
    record["load_average"] = [round(value, 2) for value in os.getloadavg()]
    # Kept under its old name for earlier results: the text dry run as a command.
    record["dry_run_command_seconds"] = commands["dry_run_text"]["seconds"]
    return record


def report(record):
    if "load_average" in record:
        print(f"  {record['nodes']} nodes: load average {' '.join(map(str, record['load_average']))} (1, 5, 15 min)")
    for name, entry in record["commands"].items():
        line = f"  {record['nodes']} nodes {name}: {entry['seconds']:.3f} s (budget {entry['budget_seconds']:.3f} s)"
        if "budget_peak_rss_mb" in entry:
            line += f", {entry['peak_rss_mb']:.0f} MB (budget {entry['budget_peak_rss_mb']:.0f} MB)"
        if "cached_seconds" in entry:
            line += f" (store unchanged: {entry['cached_seconds']:.3f} s)"
        if entry["over_budget"]:
            line += "  OVER BUDGET"
        if name in record.get("instructions", {}):
            line += f", {record['instructions'][name] / 1e9:.3f} G instructions"
        print(line)


def counts(pairs):
    result = {}
    for name, text in zip(pairs[0::2], pairs[1::2]):
        figure = json.loads(text)
        if "pages" in figure:
            result["console_site_page"] = figure["pages"]["/"]["instructions"]
            result["console_api_site"] = figure["pages"]["/api/v1/site"]["instructions"]
        else:
            result[name] = figure["instructions"]
    return result


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(json.load(sys.stdin))
    elif sys.argv[1] == "--counts":
        print(json.dumps(counts(sys.argv[2:])))
    elif sys.argv[1] == "--with-instructions":
        record = json.load(sys.stdin)
        record["instructions"] = json.loads(sys.argv[2])
        print(json.dumps(record))
    else:
        print(json.dumps(merge(int(sys.argv[1]), *sys.argv[2:8])))
