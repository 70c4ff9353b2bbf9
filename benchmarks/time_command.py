"""Time whole commands as an operator runs them, and the console's pages as a browser asks for them.

    time_command.py run --repeats N --ok 0,2 --out FILE -- COMMAND...
        Runs COMMAND N times, standard output to FILE (standard error to FILE.err), and prints JSON: the best wall
        time from start to exit (seconds) and the largest peak resident set (MB, from wait4's ru_maxrss), and the
        size of the output. Fails when the exit status is not one of --ok.

    time_command.py console --repeats N --paths /,/api/v1/site [--touch-store DB [--touch-nodes K]] -- COMMAND...
        Starts COMMAND (a `reconcile console --listen 127.0.0.1:0 …`), reads the URL it prints, asks for each path
        N times and prints JSON: per path the best time from request to the last byte, and the body's size; then
        the server's peak resident set. The server is stopped (SIGTERM, then SIGKILL) whatever happens. With
        --touch-store, the SQLite store DB is written before each timed request (a meta row no page shows, and
        with --touch-nodes the last-seen time of K nodes picked at random), so the console reads the store again,
        as it does while a pass writes it: "seconds" is then that request, and "cached_seconds" the best of N
        more asked with the store left alone; "touched_nodes" is K.

    time_command.py instructions --ok 0,2 [--paths /,/api/v1/site] -- COMMAND...
        Counts the instructions COMMAND executes under valgrind's callgrind (the stable figure on a shared, noisy
        machine, where wall times move by 2x between runs) and prints JSON {"instructions": N}. With --paths,
        COMMAND is a console: only the requests are counted (instrumentation is switched on around each, the server
        already up), and the JSON holds per path {"instructions": N}; with --touch-store DB (and --touch-nodes K),
        the store is written between the warming request and the counted one (the console reads it again).
        COMMAND's binary must carry no DWARF that valgrind cannot read (bench-site.sh passes a copy with the debug
        sections stripped).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import sqlite3
import urllib.request


def touch_store(path, nodes=0):
    """Commits a write to the store through another connection, which the console's kept store read must notice
    (SQLite's data_version moves): a meta row of its own (a new value each time: a row rewritten as it was would
    not do, SQLite writes nothing then) and, with NODES, a new last-seen time for that many nodes picked at random,
    as a pass re-records the nodes it visits (the console then patches in those nodes from the store's change
    feed)."""
    if not path:
        return
    with sqlite3.connect(path, timeout=30) as db:
        db.execute("INSERT OR REPLACE INTO meta (key, value, updated_at) VALUES ('bench_touch', ?, ?)",
                   (str(time.time_ns()), time.time()))
        if nodes:
            db.execute("UPDATE node_status SET last_seen = ? WHERE rowid IN "
                       "(SELECT rowid FROM node_status ORDER BY random() LIMIT ?)", (time.time(), nodes))
    db.close()


def fetch_seconds(url):
    """Seconds from request to the last byte, and the body's size."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return time.perf_counter() - start, len(body)


def run(args):
    ok = {int(code) for code in args.ok.split(",")}
    best = None
    peak_kb = 0
    for _ in range(args.repeats):
        with open(args.out, "wb") as out, open(args.out + ".err", "wb") as err:
            start = time.perf_counter()
            process = subprocess.Popen(args.command, stdout=out, stderr=err)
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            sys.stderr.write(open(args.out + ".err", errors="replace").read()[-2000:])
            sys.exit(f"{' '.join(args.command)}: exit {code}, expected {sorted(ok)}")
        best = elapsed if best is None else min(best, elapsed)
        peak_kb = max(peak_kb, usage.ru_maxrss)
    print(json.dumps({"seconds": best, "peak_rss_mb": peak_kb / 1024,
                      "output_bytes": os.path.getsize(args.out)}))


def console(args):
    server = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            match = re.search(r"(http://[0-9.]+:[0-9]+)/", line)
            url = match.group(1) if match else None
        if url is None:
            sys.exit("the console did not print its URL")
        pages = {}
        for path in args.paths.split(","):
            best = None
            size = 0
            for _ in range(args.repeats):
                touch_store(args.touch_store, args.touch_nodes)
                elapsed, size = fetch_seconds(url + path)
                best = elapsed if best is None else min(best, elapsed)
            pages[path] = {"seconds": best, "bytes": size}
            if args.touch_store:
                pages[path]["cached_seconds"] = min(fetch_seconds(url + path)[0] for _ in range(args.repeats))
        status = open(f"/proc/{server.pid}/status").read()
        peak = re.search(r"VmHWM:\s+(\d+) kB", status)
        print(json.dumps({"pages": pages, "peak_rss_mb": int(peak.group(1)) / 1024 if peak else None,
                          "touched_nodes": args.touch_nodes if args.touch_store else 0}))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def collected(log):
    """The instruction count callgrind printed at exit ("Collected : N")."""
    match = re.search(r"Collected : (\d+)", log)
    if match is None:
        sys.exit("callgrind printed no count:\n" + log[-2000:])
    return int(match.group(1))


def start_console(command):
    """Starts a console server; answers the process and the URL it printed."""
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        match = re.search(r"(http://[0-9.]+:[0-9]+)/", line)
        if match:
            return server, match.group(1)
    server.kill()
    server.wait()
    sys.exit("the console did not print its URL")


def instructions(args):
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if not args.paths:
        with subprocess.Popen(valgrind + args.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) as process:
            log = process.stderr.read()
        if str(process.returncode) not in args.ok.split(","):
            sys.exit(f"exit status {process.returncode}: {log[-2000:]}")
        print(json.dumps({"instructions": collected(log)}))
        return
    pages = {}
    for path in args.paths.split(","):
        log_file = f"/tmp/rackswarm-callgrind-{os.getpid()}.log"
        server, url = start_console(valgrind + ["--instr-atstart=no", f"--log-file={log_file}"] + args.command)
        try:
            urllib.request.urlopen(url + path, timeout=600).read()  # warm: the first request pays one-time costs
            touch_store(args.touch_store, args.touch_nodes)
            subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, capture_output=True)
            urllib.request.urlopen(url + path, timeout=600).read()
            subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, capture_output=True)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        with open(log_file) as log:
            pages[path] = {"instructions": collected(log.read())}
        os.unlink(log_file)
    print(json.dumps({"pages": pages}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("run", "console", "instructions"):
        p = sub.add_parser(mode)
        p.add_argument("--repeats", type=int, default=3)
        p.add_argument("command", nargs="+")
        if mode == "run":
            p.add_argument("--ok", default="0")
            p.add_argument("--out", required=True)
        elif mode == "console":
            p.add_argument("--paths", default="/")
            p.add_argument("--touch-store", default="")
            p.add_argument("--touch-nodes", type=int, default=0)
        else:
            p.add_argument("--ok", default="0")
            p.add_argument("--paths", default="")
            p.add_argument("--touch-store", default="")
            p.add_argument("--touch-nodes", type=int, default=0)
    args = parser.parse_args()
    {"run": run, "console": console, "instructions": instructions}[args.mode](args)


if __name__ == "__main__":
    main()
