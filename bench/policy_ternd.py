#!/usr/bin/python3
"""bench/policy_ternd.py: what a policy costs ternd itself on cache hits (issue #5):
no policy, the issue's example (on_query in Lua over a 100k-name blocklist), and
the same list as a declarative rule (tern.rule, checked in C, no Lua per query).

    bench/policy_ternd.py --ternd PATH --prefix 127.N [--rounds 5] [--seconds 5]
                          [--no-callgrind] [--no-cpu]

For each variant: user-space instructions per cached query under callgrind
(--threads 1, 20,000 cached queries over 200 names, idle subtracted: as bench/run
measures them), then CPU microseconds per query at full rate with dnsperf (the
server's user + system time / answered), the variants interleaved round by round
since the machine may be shared: medians and the spread are printed.
Needs its own simnet prefix (it starts and stops a simnet there)."""

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "net"))

import measure  # noqa: E402
import peers  # noqa: E402
import queryset  # noqa: E402
import simnet as simnet_ctl  # noqa: E402

CLIENT_CPU, SERVER_CPU = 0, 1
N_BLOCKED = 100000

EXAMPLE = '''local blocked = tern.nameset("%s")   -- one domain per line, # comments
function on_query(q)
  if blocked:covers(q.name) then return tern.nxdomain() end -- the name or anything below it
  return tern.pass()
end
'''
RULES = '''local blocked = tern.nameset("%s")
tern.rule{ names = blocked, action = tern.nxdomain() }
'''


class PolicyTern(peers.Tern):
    def __init__(self, *args, variant, script, **kw):
        self.name = "tern-" + variant
        super().__init__(*args, **kw)
        self.script = script

    def command(self):
        cmd = super().command()
        return cmd + ["--policy", self.script] if self.script else cmd


def user_sys_s(pid):
    """utime, stime of @pid in seconds (clock ticks: coarse, fine over seconds)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def spread(values):
    return "median %.3f (min %.3f, max %.3f, n=%d)" % (
        statistics.median(values), min(values), max(values), len(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ternd", required=True)
    ap.add_argument("--prefix", required=True, help="simnet prefix 127.N of your own")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--names", type=int, default=200)
    ap.add_argument("--cg-queries", type=int, default=20000)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--variants", default="none,example,rules")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="policy-ternd-")
    bl = os.path.join(work, "blocklist.txt")
    with open(bl, "w") as f:
        f.write("# %d names, none of them asked\n" % N_BLOCKED)
        for i in range(N_BLOCKED):
            f.write("ads%05d.blocked%03d.example\n" % (i, i % 977))
    scripts = {"none": None}
    for v, text in (("example", EXAMPLE), ("rules", RULES)):
        scripts[v] = os.path.join(work, v + ".lua")
        with open(scripts[v], "w") as f:
            f.write(text % bl)
    variants = a.variants.split(",")
    simnet_dir = os.path.join(work, "simnet")
    info = simnet_ctl.start(simnet_dir, prefix=a.prefix, quiet=True)
    try:
        qs = queryset.QuerySet(info, a.names)
        datafile = qs.write(os.path.join(work, "names.txt"))
        servers = {v: PolicyTern(work, 29970 + i, simnet_dir, SERVER_CPU, False, ternd=a.ternd,
                                 variant=v, script=scripts[v]) for i, v in enumerate(variants)}
        if not a.no_callgrind:
            for v in variants:
                r = measure.instructions(servers[v], datafile, a.names, a.cg_queries,
                                         CLIENT_CPU, work)
                print("callgrind %-8s %6.0f instructions per hit (%d queries, %.0f%% answered)" % (
                    v, r["per_query"], r["queries"], 100 * r["answered"]), flush=True)
        if not a.no_cpu:
            cpu = {v: [] for v in variants}
            user = {v: [] for v in variants}
            for rnd in range(a.rounds):
                for v in variants:
                    s = servers[v]
                    s.start()
                    try:
                        measure.dnsperf(s.port, datafile, CLIENT_CPU, work, s.name + "-warm",
                                        clients=1, outstanding=10, max_runs=2, timeout_s=10)
                        u0, k0 = user_sys_s(s.pid)
                        r = measure.throughput(s, datafile, CLIENT_CPU, work, s.name, a.seconds)
                        u1, k1 = user_sys_s(s.pid)
                        user[v].append((u1 - u0) / max(u1 - u0 + k1 - k0, 1e-9))
                    finally:
                        s.stop()
                    cpu[v].append(r["cpu_us"])
                    print("round %d %-8s %.3f us CPU per query, %.0f q/s, %.0f%% answered, "
                          "others %.2f CPUs" % (rnd + 1, v, r["cpu_us"], r["qps"],
                                                100 * r["answered"], r["other_cpus"]), flush=True)
            for v in variants:
                print("cpu %-8s %s; user share %s" % (v, spread(cpu[v]), spread(user[v])))
            if "none" in cpu:
                base = statistics.median(cpu["none"])
                for v in variants:
                    if v != "none":
                        # per round, against the no-policy run next to it
                        rel = [100 * (x / y - 1) for x, y in zip(cpu[v], cpu["none"])]
                        print("cpu %-8s vs none: %+.1f%% of medians; per round %s (median %+.1f%%)"
                              % (v, 100 * (statistics.median(cpu[v]) / base - 1),
                                 " ".join("%+.1f%%" % x for x in rel), statistics.median(rel)))
    finally:
        simnet_ctl.stop(simnet_dir)


if __name__ == "__main__":
    main()
