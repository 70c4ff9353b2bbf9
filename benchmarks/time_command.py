"""Time whole commands as an operator runs them, and the console's pages as a browser asks for them.

    time_command.py run --repeats N --ok 0,2 --out FILE -- COMMAND...
        Runs COMMAND N times, standard output to FILE (standard error to FILE.err), and prints JSON: the best wall
        time from start to exit (seconds) and the largest peak resident set (MB, from wait4's ru_maxrss), and the
        size of the output. Fails when the exit status is not one of --ok.

    time_command.py console --repeats N --paths /,/api/v1/site -- COMMAND...
        Starts COMMAND (a `reconcile console --listen 127.0.0.1:0 …`), reads the URL it prints, asks for each path
        N times and prints JSON: per path the best time from request to the last byte, and the body's size; then
        the server's peak resident set. The server is stopped (SIGTERM, then SIGKILL) whatever happens.

    time_command.py instructions --ok 0,2 [--paths /,/api/v1/site] -- COMMAND...
        Counts the instructions COMMAND executes under valgrind's callgrind (the stable figure on a shared, noisy
        machine, where wall times move by 2x between runs) and prints JSON {"instructions": N}. With --paths,
        COMMAND is a console: only the requests are counted (instrumentation is switched on around each, the server
        already up), and the JSON holds per path {"instructions": N}. COMMAND's binary must carry no DWARF that
        valgrind cannot read (bench-site.sh passes a copy with the debug sections stripped).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request


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
                start = time.perf_counter()
                with urllib.request.urlopen(url + path, timeout=120) as response:
                    body = response.read()
                elapsed = time.perf_counter() - start
                best = elapsed if best is None else min(best, elapsed)
                size = len(body)
            pages[path] = {"seconds": best, "bytes": size}
        status = open(f"/proc/{server.pid}/status").read()
        peak = re.search(r"VmHWM:\s+(\d+) kB", status)
        print(json.dumps({"pages": pages, "peak_rss_mb": int(peak.group(1)) / 1024 if peak else None}))
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
        else:
            p.add_argument("--ok", default="0")
            p.add_argument("--paths", default="")
    args = parser.parse_args()
    {"run": run, "console": console, "instructions": instructions}[args.mode](args)


if __name__ == "__main__":
    main()
