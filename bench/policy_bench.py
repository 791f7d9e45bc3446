#!/usr/bin/python3
"""bench/policy_bench.py: the policy isolates' figures (issue #5) as a markdown
section for bench/RESULTS.md. Builds bench/policy_bench (make -C bench policy)
against a configured build with Lua, runs it natively (times, memory) and
under callgrind (instructions per call, which do not depend on the load of
the machine), and prints the section.

    bench/policy_bench.py [--build DIR]     (default: build-bench, else build)

Separate from bench/run on purpose: it needs no simnet and no peers.
"""

import argparse
import glob
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def run_native(binary):
    out = subprocess.run([binary], stdout=subprocess.PIPE, universal_newlines=True,
                         check=True).stdout
    figures = {}
    for line in out.splitlines():
        key, value = line.split()[:2]
        figures.setdefault(key, float(value))  # the first of a repeated key
    return figures


def run_callgrind(binary):
    """{key: instructions per round} from the dumps of each measured loop."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.%%p" % d, binary],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        per = {}
        for path in glob.glob(os.path.join(d, "cg.*.*")):
            with open(path) as f:
                text = f.read()
            m = re.search(r"^desc: Trigger: Client Request: (\S+) (\d+)$", text, re.M)
            t = re.search(r"^summary:\s+(\d+)", text, re.M)
            if m and t:
                per.setdefault(m.group(1), int(t.group(1)) / int(m.group(2)))
        return per


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="configured build directory with Lua")
    a = ap.parse_args()
    build = a.build or next((os.path.join(TOP, d) for d in ("build-bench", "build")
                             if os.path.exists(os.path.join(TOP, d, "libresolver.a"))), None)
    if not build:
        sys.exit("no build with libresolver.a: give --build")
    subprocess.run(["make", "-s", "-C", HERE, "policy", "BUILD=" + os.path.abspath(build)],
                   check=True)
    binary = os.path.join(os.path.abspath(build), "bench", "policy_bench")
    nat = run_native(binary)
    cg = run_callgrind(binary)
    rev = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                         stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()

    def row(what, key, goal=""):
        ins = "%s" % format(round(cg[key]), ",") if key in cg else "—"
        return "| %s | %.2f | %s | %s |" % (what, nat[key], ins, goal)

    lines = [
        "## Policy isolates (bench/policy_bench.py)",
        "",
        "- date: %s; machine: %s, %d cores, Linux %s; tern: %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu_model(), os.cpu_count(),
            platform.release(), rev),
        "- in process, one thread; times are wall clock on a possibly busy machine, "
        "instructions (callgrind, user space) are not. The calls are `policy_fast_query()`, "
        "what a cache hit runs; 200 names in turn unless said.",
        "",
        "| figure | time | instructions | goal |",
        "|---|---|---|---|",
        row("isolate creation (safe libraries), µs", "create_bare", "≤ 100 µs"),
        row("a worker's load of a trivial script (isolate, API, script), µs",
            "create_loaded"),
        "| idle isolate, KiB: bare / with API and a trivial script loaded | %.1f / %.1f | | ≤ 64 KiB |"
        % (nat["idle_bare"], nat["idle_loaded"]),
        row("trivial call `return tern.pass()`, ns", "call_trivial"),
        row("100k-name blocklist (the issue's example), name not listed, ns", "call_blocklist_pass"),
        row("same, name listed (verdict handed to the full path), ns", "call_blocklist_block"),
        row("same, every name new (q.name a new string each time), ns",
            "call_blocklist_pass_new_names"),
        row("the same list as a rule (`tern.rule{ names = blocked, action = tern.nxdomain() }`, "
            "in C, no Lua call), name not listed, ns", "rules_blocklist_pass"),
        row("same, name listed (handed to the full path), ns", "rules_blocklist_block"),
        row("same, every name new (the memo of recent names misses), ns",
            "rules_blocklist_pass_new_names"),
        row("nameset_covers() alone, 4 labels, not listed, ns", "covers_miss"),
        "",
        "The 100k list: %d names, %.1f MiB in C (shared by every isolate), loaded in %.0f ms."
        % (nat["nameset_names"], nat["nameset_size"], nat["load_blocklist"]),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
