"""bench/bench: tern side by side with Unbound, Knot Resolver and PowerDNS Recursor
on the project's simulated internet, and a bare UDP responder as the ceiling.
Run it through bench/run (see bench/README.md). The phases, in order:

  prepare     Debian packages (services kept stopped), ternd, bench/ceiling, bench/cachebench
  simnet      our own simulated internet on a free 127.N prefix (stopped at the end)
  cold        per round, each resolver restarted with an empty cache and run alone: wall
              time, CPU time, upstream queries, memory (the last round leaves them warm)
  verify      every resolver's answers against the zone data (a wrong answer fails the run)
  rounds      per round, each server in turn: cache-hit throughput and CPU per query, then
              latency at a fixed rate (the order rotates from round to round)
  encrypted   per round, tern, unbound and kresd in turn: cache hits over DoT and over DoH
              (dnsperf -m dot, -m doh), then new DoT connections per second with full and
              with resumed TLS handshakes (bench/handshake.py)
  callgrind   each server afresh under callgrind: instructions per cache-hit query (UDP,
              then DoT and DoH for the servers that serve them)
  cachebench  tern's cache in process at 1 and 2 threads
  policy      the policy isolates in process (bench/policy_bench.py), a section of its own
  report      one markdown table; bench/RESULTS.md (full runs)

Exits 1 if any server failed to start or to answer.
"""

import argparse
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "net"))

import measure  # noqa: E402
import peers  # noqa: E402
import prepare  # noqa: E402
import queryset  # noqa: E402
import report  # noqa: E402
import simnet as simnet_ctl  # noqa: E402  (tests/net/simnet.py)

CLIENT_CPU, SERVER_CPU = 0, 1
PREFIXES = ["127.%d" % n for n in range(147, 160)]   # tried in order: the first one free
MIN_ANSWERED = 0.95      # below this share of NOERROR answers, a server "failed to answer"
NOISY_CPUS = 0.5         # others took more than this (in CPUs) during a run: run it again

# outstanding: dnsperf's -q at max rate. 500 overflows the peers' default socket buffer
# (208 KiB, about 270 queries) on the first burst, and each query lost holds one of
# dnsperf's slots for its 5 s timeout: the rate then measures the loss, not the server.
FULL = dict(names=1200, rounds=5, seconds=10, latency_seconds=5, outstanding=100,
            latency_qps=20000, cold_outstanding=20,
            cg_names=200, cg_queries=20000, cb_records=200000, cb_seconds=3.0, cb_rounds=3,
            quiet_wait_s=20, noisy_budget_s=600, noisy_retries=2,
            enc_seconds=10, enc_clients=16, hs_seconds=5)
SMOKE = dict(names=100, rounds=1, seconds=2, latency_seconds=2, outstanding=100,
             latency_qps=2000, cold_outstanding=20,
             cg_names=100, cg_queries=200, cb_records=20000, cb_seconds=0.5, cb_rounds=1,
             quiet_wait_s=0, noisy_budget_s=0, noisy_retries=0,
             enc_seconds=2, enc_clients=4, hs_seconds=1)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true",
                    help="tiny scale (one round, ~2 s per figure, 100 names): for CI")
    ap.add_argument("--dnssec", action="store_true",
                    help="validate, with the simnet's root.ds as trust anchor (default: off)")
    ap.add_argument("--only", default="",
                    help="comma-separated subset of tern,unbound,kresd,pdns_recursor,ceiling")
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: "
                    "cold,validating,rounds,encrypted,callgrind,cachebench,policy (cold also warms "
                    "the caches: without it, a warm-up pass replaces it; validating is the cold run "
                    "again with DNSSEC validation on, issue 3's figure)")
    ap.add_argument("--ternd", help="ternd binary (default: build ../build-bench/ternd)")
    ap.add_argument("--build", default=os.path.join(TOP, "build-bench"),
                    help="tern build directory (default: build-bench at the top)")
    ap.add_argument("--no-install", action="store_true", help="do not run apt-get")
    ap.add_argument("--prefix", help="simnet prefix 127.N (default: the first free of %s..%s)"
                    % (PREFIXES[0], PREFIXES[-1]))
    ap.add_argument("--workdir", help="where configs, caches and logs go (default: a new "
                    "directory in /dev/shm, removed at the end unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--results", help="write the results (markdown) there "
                    "(default: bench/RESULTS.md for a full run, nothing for --smoke)")
    for k, v in FULL.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), help="(full %s, smoke %s)"
                        % (v, SMOKE[k]))
    return ap.parse_args(argv)


def free_prefix():
    for p in PREFIXES:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((p + ".0.1", 53))
            except OSError:
                continue
        return p
    raise SystemExit("bench: no free simnet prefix among %s..%s" % (PREFIXES[0], PREFIXES[-1]))


_handed_out = set()


def free_port():
    """A port free on 127.0.0.1 for both UDP and TCP, not handed out before in this run
    (two bind(0) in a row may get the same port, and servers bind theirs only later)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if port in _handed_out:
                continue
            _handed_out.add(port)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


T0 = time.monotonic()


def packet_sockets():
    """How many AF_PACKET sockets (captures) are open on the machine."""
    try:
        with open("/proc/net/packet") as f:
            return max(0, len(f.readlines()) - 1)
    except OSError:
        return 0


def log(msg):
    print("bench [%4.0fs]: %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


class Run:
    """One benchmark run: its parameters, servers and results."""

    def __init__(self, args):
        self.args = args
        self.p = dict(SMOKE if args.smoke else FULL)
        for k in self.p:
            if getattr(args, k) is not None:
                self.p[k] = getattr(args, k)
        self.p.update(dnssec=args.dnssec, client_cpu=CLIENT_CPU, server_cpu=SERVER_CPU)
        self.servers = []
        self.failures = []
        self.dead = set()
        self.broken = set()   # servers that failed verify: not measured further
        self.noisy_spent_s = 0.0   # on waiting for quiet and repeating noisy runs
        self.notes = []
        self.res = {"params": self.p, "throughput": {}, "latency": {}, "cold": {},
                    "cold_validating": {},
                    "instructions": {}, "cachebench": None,
                    "dot": {}, "doh": {}, "hs_new": {}, "hs_resume": {},
                    "instructions_dot": {}, "instructions_doh": {}}

    def fail(self, server, what, err):
        msg = "%s: %s: %s" % (server.name if server else "bench", what, err)
        log("FAILED " + msg)
        self.failures.append(msg)

    def guarded(self, server, what, fn, *a, **kw):
        """fn(*a, **kw), or None with a failure recorded if it raises."""
        try:
            return fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 (one server's trouble must not end the run)
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
            self.fail(server, what, e)
            return None

    def alive(self, server, when):
        """True if @server runs; else a failure is recorded (once)."""
        if server.name in self.broken:
            return False
        if server.running():
            return True
        if server.name not in self.dead:
            self.dead.add(server.name)
            code = server.proc.returncode if server.proc else None
            self.fail(server, when, "not running" + (" (exit status %s)" % code
                                                     if code is not None else ""))
        return False

    def quiet(self):
        """Before a measurement: wait a while for other people's work to end."""
        if self.p["quiet_wait_s"] > 0 and self.noisy_spent_s < self.p["noisy_budget_s"]:
            t0 = time.monotonic()
            load = measure.wait_quiet(self.p["quiet_wait_s"])
            self.noisy_spent_s += time.monotonic() - t0
            if load >= 0.15:
                log("the machine is busy (%.2f CPUs used by others): measuring anyway" % load)

    def background_note(self):
        """A note on the other load during the cache-hit and latency runs."""
        runs = [r for phase in ("throughput", "latency") for rounds in self.res[phase].values()
                for r in rounds if r]
        if not runs:
            return
        other = sorted(r["other_cpus"] for r in runs)
        drops = sum(r["drops"] for r in runs)
        if drops:
            self.notes.append("The kernel dropped %d datagrams (full socket buffers) during the "
                              "cache-hit and latency runs." % drops)
        steal = sorted(r["steal_cpus"] for r in runs)
        retries = sum(r.get("retries", 0) for r in runs)
        text = ("Background during the cache-hit and latency runs (shared machine): other "
                "processes used a median %.2f CPUs (max %.2f), the hypervisor stole a median "
                "%.2f CPUs (max %.2f)." % (statistics.median(other), other[-1],
                                           statistics.median(steal), steal[-1]))
        if self.p["noisy_budget_s"] > 0:
            text += (" Each run waited up to %d s for a quiet machine first, and was run again "
                     "(at most %d times) when others took more than %.1f CPUs meanwhile, within "
                     "%d s in all for both: %d runs were repeated." % (
                         self.p["quiet_wait_s"], self.p["noisy_retries"], NOISY_CPUS,
                         self.p["noisy_budget_s"], retries))
        self.notes.append(text)
        if statistics.median(other) + statistics.median(steal) > 0.2:
            self.notes.append("**With that much else running, the timings of this run (queries/s, "
                              "latency, wall times) say little; CPU time per query says more, "
                              "and instructions per query (callgrind) do not depend on it.**")

    def check_answered(self, server, what, r):
        if r is not None and r["answered"] < MIN_ANSWERED:
            self.fail(server, what, "only %.1f%% of the queries answered NOERROR"
                      % (100 * r["answered"]))

    # --- phases ----------------------------------------------------------------
    def make_servers(self, ternd, ceiling, simnet_dir, workdir, encrypted=True):
        only = set(filter(None, self.args.only.split(",")))
        kw = dict(simnet_dir=simnet_dir, cpu=SERVER_CPU, dnssec=self.p["dnssec"])
        made = [peers.Tern(workdir, free_port(), ternd=ternd, **kw),
                peers.Unbound(workdir, free_port(), **kw),
                peers.Kresd(workdir, free_port(), **kw),
                peers.PdnsRecursor(workdir, free_port(), **kw),
                peers.Ceiling(workdir, free_port(), binary=ceiling, **kw)]
        self.servers = [s for s in made if not only or s.name in only]
        for s in self.servers:
            self.notes += s.notes
        if encrypted and any(s.serves_encrypted for s in self.servers):
            cert, key = peers.make_pki(os.path.join(workdir, "pki"))
            for s in self.servers:
                if s.serves_encrypted:
                    s.set_encrypted(cert, key, free_port(), free_port())

    def cold(self, qs, datafile, simnet_info, validating_too):
        """Each round, each resolver restarted with an empty cache, alone. With
        @validating_too (a run without --dnssec), each is first run cold once more
        with validation on: issue 3 asks validation to cost a cold resolution at
        most 20% more wall time, measured the same way side by side."""
        exclude = list(simnet_info["slow"].values())
        simnet_pids = [pid for pid, _ in simnet_ctl.read_pids(simnet_info["dir"])]

        def one(s, rnd, phase, validate):
            log("%s %d/%d: %s, %d names from an empty cache" % (
                "cold, validating," if validate else "cold", rnd + 1, self.p["rounds"], s.name,
                len(qs.questions)))
            s.dnssec = validate
            try:
                r = self.measured(s, phase, measure.cold, s, datafile, qs.rrsets,
                                  simnet_info["prefix"], exclude, simnet_pids, CLIENT_CPU,
                                  self.outdir, self.p["cold_outstanding"])
            finally:
                s.dnssec = self.p["dnssec"]
            self.res[phase].setdefault(s.name, []).append(r)
            self.check_answered(s, phase, r)

        for rnd in range(self.p["rounds"]):
            for s in self.servers:
                if not s.resolves:
                    continue
                if validating_too:
                    one(s, rnd, "cold_validating", True)
                one(s, rnd, "cold", self.p["dnssec"])   # last: leaves it running, warm

    def warm_and_verify(self, qs, datafile):
        """Start what is not running (the ceiling; everything if cold was skipped), then
        ask every question once more and check each resolver's answers. A resolver
        with too many wrong or missing answers is not measured further."""
        for s in self.servers:
            if not s.running():
                self.guarded(s, "start", s.start)
                if not s.running():
                    self.broken.add(s.name)
                    continue
            if not s.resolves:
                r = self.guarded(s, "warm", measure.dnsperf, s.port, datafile, CLIENT_CPU,
                                 self.outdir, s.name + "-warm", clients=4, outstanding=20,
                                 max_runs=1, timeout_s=2)
                r = r and {"answered": measure.answered_ok(r)}
                self.check_answered(s, "warm", r)
                if not r or r["answered"] < MIN_ANSWERED:
                    self.broken.add(s.name)
                continue
            problems = self.guarded(s, "verify", measure.verify, s, qs, self.p["dnssec"])
            if problems:
                self.fail(s, "verify", "%d wrong answers, e.g. %s"
                          % (len(problems), "; ".join(problems[:3])))
            if problems is None or len(problems) > len(qs.questions) * (1 - MIN_ANSWERED) \
                    or any("gave up" in p for p in problems):
                self.broken.add(s.name)
            if s.name in self.broken:
                log("%s is not measured further" % s.name)
                s.stop()

    def measured(self, server, what, fn, *a, noisy_cpus=NOISY_CPUS, **kw):
        """fn(*a, **kw) after waiting for a quiet machine; run again (at most noisy_retries
        times) when other processes took more than @noisy_cpus meanwhile. Waits and
        repeats stop once the run has spent noisy_budget_s on them."""
        retries = self.p["noisy_retries"]
        for attempt in range(retries + 1):
            self.quiet()
            t0 = time.monotonic()
            r = self.guarded(server, what, fn, *a, **kw)
            if r is not None:
                r["retries"] = attempt
            if r is None or r["other_cpus"] <= noisy_cpus or attempt == retries \
                    or self.noisy_spent_s >= self.p["noisy_budget_s"]:
                return r
            self.noisy_spent_s += time.monotonic() - t0
            log("%s: %s: others used %.2f CPUs meanwhile: again" % (
                server.name if server else "bench", what, r["other_cpus"]))

    def rounds(self, datafile):
        n = len(self.servers)
        captures = 0
        for rnd in range(self.p["rounds"]):
            captures = max(captures, packet_sockets())
            order = self.servers[rnd % n:] + self.servers[:rnd % n]
            for s in order:
                if not self.alive(s, "round %d" % (rnd + 1)):
                    continue
                log("round %d/%d: %s: cache hits at max rate, %ss" % (
                    rnd + 1, self.p["rounds"], s.name, self.p["seconds"]))
                r = self.measured(s, "throughput", measure.throughput, s, datafile, CLIENT_CPU,
                                  self.outdir, "%s-throughput-%d" % (s.name, rnd),
                                  self.p["seconds"], outstanding=self.p["outstanding"])
                self.res["throughput"].setdefault(s.name, []).append(r)
                self.check_answered(s, "throughput", r)
                log("round %d/%d: %s: latency at %d q/s" % (
                    rnd + 1, self.p["rounds"], s.name, self.p["latency_qps"]))
                r = self.measured(s, "latency", measure.latency, s, datafile, CLIENT_CPU,
                                  self.outdir, self.p["latency_qps"], self.p["latency_seconds"],
                                  outstanding=self.p["outstanding"])
                self.res["latency"].setdefault(s.name, []).append(r)
                self.check_answered(s, "latency", r)
                if r and r["achieved_qps"] < 0.95 * self.p["latency_qps"]:
                    self.notes.append("%s did not sustain %d q/s in the latency run (%.0f)" % (
                        s.name, self.p["latency_qps"], r["achieved_qps"]))

        if captures:
            self.notes.append("%d packet socket(s) (a capture, e.g. tcpdump or a test's) were "
                              "open on this machine during the rounds: each copies every "
                              "loopback packet, some 7%% more CPU per packet sent for all." % captures)

    def encrypted(self, datafile, qname):
        """Per round, each server with DoT and DoH listeners in turn: cache hits over DoT,
        over DoH, then new DoT connections (full and resumed handshakes)."""
        enc = [s for s in self.servers if s.dot_port]
        if not enc:
            return
        n = len(enc)
        for rnd in range(self.p["rounds"]):
            order = enc[rnd % n:] + enc[:rnd % n]
            for s in order:
                for mode in ("dot", "doh"):
                    if not self.alive(s, "round %d" % (rnd + 1)):
                        break
                    log("round %d/%d: %s: cache hits over %s at max rate, %ss" % (
                        rnd + 1, self.p["rounds"], s.name, "DoT" if mode == "dot" else "DoH",
                        self.p["enc_seconds"]))
                    r = self.measured(s, mode, measure.throughput_encrypted, s, mode, datafile,
                                      CLIENT_CPU, self.outdir,
                                      "%s-%s-%d" % (s.name, mode, rnd), self.p["enc_seconds"],
                                      clients=self.p["enc_clients"],
                                      outstanding=self.p["outstanding"])
                    self.res[mode].setdefault(s.name, []).append(r)
                    self.check_answered(s, mode, r)
                for resume in (False, True):
                    if not self.alive(s, "round %d" % (rnd + 1)):
                        break
                    what = "hs_resume" if resume else "hs_new"
                    log("round %d/%d: %s: new DoT connections, %s handshakes, %ss" % (
                        rnd + 1, self.p["rounds"], s.name, "resumed" if resume else "full",
                        self.p["hs_seconds"]))
                    r = self.measured(s, what, measure.handshakes, s, resume, qname,
                                      CLIENT_CPU, self.outdir, "%s-%s-%d" % (s.name, what, rnd),
                                      self.p["hs_seconds"])
                    self.res[what].setdefault(s.name, []).append(r)
                    self.check_answered(s, what, r)
                    if r and resume and r["resumed"] < 0.9:
                        self.notes.append("%s resumed only %.0f%% of the TLS sessions offered"
                                          % (s.name, 100 * r["resumed"]))

    def callgrind(self, qs):
        subset = qs.questions[:self.p["cg_names"]]
        datafile = qs.write(os.path.join(self.outdir, "callgrind-names.txt"), subset)
        for s in self.servers:
            s.stop()
        for s in self.servers:
            if s.name in self.broken:
                continue
            log("callgrind: %s, %d cached queries" % (s.name, self.p["cg_queries"]))
            r = self.guarded(s, "callgrind", measure.instructions, s, datafile, len(subset),
                             self.p["cg_queries"], CLIENT_CPU, self.outdir)
            self.res["instructions"][s.name] = r
            self.check_answered(s, "callgrind", r)
            for mode in ("dot", "doh") if s.dot_port else ():
                log("callgrind: %s, %d cached queries over %s" % (
                    s.name, self.p["cg_queries"], "DoT" if mode == "dot" else "DoH"))
                r = self.guarded(s, "callgrind " + mode, measure.instructions, s, datafile,
                                 len(subset), self.p["cg_queries"], CLIENT_CPU, self.outdir,
                                 mode=mode)
                self.res["instructions_" + mode][s.name] = r
                self.check_answered(s, "callgrind " + mode, r)

    def cachebench(self, binary, workdir):
        """Rounds of bench/cachebench; 2 threads need both CPUs: a stricter quiet."""
        runs = []
        for rnd in range(self.p["cb_rounds"]):
            log("cachebench %d/%d: %d records, %s s per figure" % (
                rnd + 1, self.p["cb_rounds"], self.p["cb_records"], self.p["cb_seconds"]))
            r = self.measured(None, "cachebench", measure.cachebench, binary, workdir,
                              self.p["cb_records"], self.p["cb_seconds"], noisy_cpus=0.2)
            if r:
                runs.append(r)
        self.res["cachebench"] = measure.medians(runs) if runs else None
        self.res["cachebench_other_cpus"] = [r["other_cpus"] for r in runs]

    def policy(self, build, ternd):
        """bench/policy_bench.py: the policy isolates' figures, a section of their own."""
        log("policy isolates (bench/policy_bench.py)")
        r = subprocess.run([sys.executable, os.path.join(HERE, "policy_bench.py"),
                            "--build", os.path.abspath(build)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        if r.returncode != 0:
            self.fail(None, "policy_bench", r.stderr.strip()[-500:])
            return
        self.res["policy_md"] = r.stdout.strip()
        if self.args.smoke:
            return
        # what a policy costs ternd itself per cache hit, on a simnet of its own
        log("policy in ternd (bench/policy_ternd.py)")
        cmd = [sys.executable, os.path.join(HERE, "policy_ternd.py"), "--ternd", ternd,
               "--prefix", free_prefix(), "--rounds", str(self.p["rounds"]),
               "--seconds", str(min(5, self.p["seconds"])), "--cg-queries",
               str(self.p["cg_queries"])]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if r.returncode != 0:
            self.fail(None, "policy_ternd", r.stderr.strip()[-500:])
            return
        self.res["policy_md"] += (
            "\n\n### What a policy costs ternd per cache hit (bench/policy_ternd.py)\n\n"
            "No policy; the issue's example (on_query in Lua over a 100,000-name blocklist); "
            "the same list as a rule (tern.rule, checked in C). Instructions per hit under "
            "callgrind, then CPU µs per hit at full rate, the variants interleaved round by "
            "round.\n\n`" + " ".join(["bench/policy_ternd.py"] + cmd[2:]) + "`\n\n```\n"
            + r.stdout.strip() + "\n```")

    # --- all -------------------------------------------------------------------
    def main(self):
        a = self.args
        skip = set(filter(None, a.skip.split(",")))
        t_start = time.monotonic()
        tools = prepare.prepare(do_install=not a.no_install, build=a.build, ternd=a.ternd, log=log)
        workdir = a.workdir or tempfile.mkdtemp(prefix="tern-bench-", dir="/dev/shm")
        os.makedirs(workdir, exist_ok=True)
        self.outdir = os.path.join(workdir, "out")
        os.makedirs(self.outdir, exist_ok=True)
        simnet_dir = os.path.join(workdir, "simnet")
        prefix = a.prefix or free_prefix()
        log("work directory %s, simnet on %s.x.y" % (workdir, prefix))
        try:
            info = simnet_ctl.start(simnet_dir, prefix=prefix, quiet=True)
            qs = queryset.QuerySet(info, self.p["names"])
            datafile = qs.write(os.path.join(self.outdir, "names.txt"))
            self.make_servers(tools["ternd"], tools["ceiling"], simnet_dir, workdir,
                              encrypted=not {"encrypted", "callgrind"} <= skip)
            if "cold" not in skip:
                self.cold(qs, datafile, info,
                          validating_too=not self.p["dnssec"] and "validating" not in skip)
            self.warm_and_verify(qs, datafile)
            if "rounds" not in skip:
                self.rounds(datafile)
            if "encrypted" not in skip:
                self.encrypted(datafile, qs.questions[0][0])
            if "callgrind" not in skip:
                self.callgrind(qs)
            if "cachebench" not in skip and (not a.only or "tern" in a.only.split(",")):
                self.cachebench(tools["cachebench"], workdir)
            if "policy" not in skip and (not a.only or "tern" in a.only.split(",")):
                self.policy(a.build, tools["ternd"])
        finally:
            for s in self.servers:
                s.stop()
            simnet_ctl.stop(simnet_dir)
        self.finish(tools, time.monotonic() - t_start)
        if not a.keep and not a.workdir:
            subprocess.run(["rm", "-rf", workdir])
        return 1 if self.failures else 0

    def finish(self, tools, elapsed_s):
        if self.p["dnssec"]:
            self.notes.insert(0, "DNSSEC validation ON for all (trust anchor: the simnet's root.ds).")
        else:
            self.notes.insert(0, "DNSSEC validation OFF for all, tern included (`bench/run "
                                 "--dnssec` turns it on for every resolver, with the simnet's "
                                 "root.ds as trust anchor)" + (
                                     ", except in the rows \"cold, validating\", where it is on "
                                     "for all with the simnet's root.ds as trust anchor."
                                     if self.res["cold_validating"] else "."))
        self.background_note()
        self.notes += peers.FAIRNESS_NOTES
        self.res.update(
            servers=[s.name for s in self.servers],
            peers=[s.name for s in self.servers if s.is_peer],
            versions={s.name: s.version() for s in self.servers},
            date=report.now(), machine=report.machine(),
            command=" ".join(["bench/run"] + [shlex.quote(x) for x in sys.argv[1:]]),
            tern_commit=tools["tern_commit"], notes=self.notes, failures=self.failures)
        self.res["params"]["elapsed_s"] = round(elapsed_s)
        md = report.markdown(self.res)
        if self.res.get("policy_md"):
            md += "\n\n" + self.res["policy_md"]
        print(md)
        log("took %.0f s" % elapsed_s)
        dest = self.args.results or (None if self.args.smoke else os.path.join(HERE, "RESULTS.md"))
        if dest:
            with open(dest, "w") as f:
                f.write(md + "\n")
            with open(os.path.splitext(dest)[0] + ".json", "w") as f:
                json.dump(strip_raw(self.res), f, indent=1, sort_keys=True)
            log("wrote %s" % dest)


def strip_raw(res):
    """The results without dnsperf's raw output (kept in the work directory)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k != "dnsperf"}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return clean(res)


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (apt-get, port 53 on 127.N.x.y, packet capture)")
    # SIGTERM/SIGHUP end the run like Ctrl-C: the finally blocks stop what we started.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    return Run(args).main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
