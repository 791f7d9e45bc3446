"""bench/measure: the measurements, one function per figure.

Load comes from dnsperf pinned to the client CPU; the server is pinned to the other
one (see peers.py). CPU time and memory are read from /proc/PID of the server's
own processes; upstream queries are counted at the simnet's side by a packet
capture (tests/net/capture.py); instructions come from callgrind. Each function
returns a dict of figures (and raises on what makes the figure meaningless).
"""

import glob
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "net"))
import capture as capture_mod  # noqa: E402  (tests/net/capture.py: reused, not copied)
import peers  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
VERIFY_TIMEOUT_S = 3
VERIFY_GIVE_UP = 3        # timeouts in a row: the server does not answer, stop asking
COLD_TIMEOUT_S = 5        # dnsperf -t for a query resolved from scratch
COLD_LIMIT_S = 60         # and -l: a server that does not answer must not hold the run


# ---------------------------------------------------------------------------
# /proc

def cpu_s(pids):
    """User + system CPU seconds of @pids (all their threads) so far.

    utime + stime of /proc/PID/stat count in clock ticks (10 ms), too coarse for a
    cold run of a fraction of a second; the scheduler's own sum per thread
    (/proc/PID/task/*/schedstat, in ns) is the same quantity, exact. It misses
    threads that have exited, so when stat shows more, stat wins."""
    total = 0.0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks_s = (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime, stime (fields 14, 15)
        exact_s = 0.0
        for stat in glob.glob("/proc/%d/task/*/schedstat" % pid):
            try:
                with open(stat) as f:
                    exact_s += int(f.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                pass
        total += exact_s if ticks_s - exact_s < 2.0 / CLK_TCK else ticks_s
    return total


def lmdb_used_bytes(env_dir):
    """Bytes of the LMDB environment in @env_dir in use: pages up to the last one
    written (data, free list, meta), as `mdb_stat -e` reports them."""
    out = subprocess.run(["mdb_stat", "-e", env_dir], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30).stdout
    page = re.search(r"Page size: (\d+)", out)
    used = re.search(r"Number of pages used: (\d+)", out)
    if not page or not used:
        raise RuntimeError("mdb_stat -e %s: no page counts" % env_dir)
    return int(page.group(1)) * int(used.group(1))


def memory_bytes(pids, directory):
    """Memory @pids use for what they hold: their anonymous resident memory (RssAnon:
    heap, stacks: where unbound and pdns_recursor keep their caches) plus the pages
    in use in every LMDB environment under @directory (tern and kresd keep their
    caches there, in files on tmpfs). Not RSS: a process's RSS counts only the file
    pages it has touched through its map, and kresd allocates its whole file at
    once (fallocate), used or not."""
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1]) * 1024
    for root, _, files in os.walk(directory):
        if "data.mdb" in files:
            total += lmdb_used_bytes(root)
    return total


def system_busy_s():
    """CPU seconds all processes of the machine spent so far (user, nice, system) and the
    seconds stolen by the hypervisor, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2]) / CLK_TCK, v[7] / CLK_TCK


def udp_rcvbuf_errors():
    """Datagrams the kernel dropped so far because a socket's receive buffer was full."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wait_quiet(max_wait_s, threshold_cpus=0.15, sample_s=0.5):
    """Wait (at most @max_wait_s) until the machine is quiet: other people's work on a
    shared machine moves every figure. Returns the load (in CPUs) last seen."""
    deadline = time.monotonic() + max_wait_s
    while True:
        b0, _ = system_busy_s()
        time.sleep(sample_s)
        load = (system_busy_s()[0] - b0) / sample_s
        if load < threshold_cpus or time.monotonic() > deadline:
            return load


class Background:
    """What else ran during a measurement: CPUs busy with anything but the server
    and our dnsperf, CPUs stolen by the hypervisor (both averaged over the run), and
    datagrams dropped on full socket buffers."""

    def __init__(self, server_pids, also_pids=()):
        self.pids = server_pids
        self.also = list(also_pids)     # not the server's, but part of the measurement

    def __enter__(self):
        self.t0 = time.monotonic()
        self.busy0, self.steal0 = system_busy_s()
        self.server0 = cpu_s(self.pids) + cpu_s(self.also)
        self.children0 = children_cpu_s()
        self.drops0 = udp_rcvbuf_errors()
        return self

    def __exit__(self, *exc):
        dt = time.monotonic() - self.t0
        busy, steal = system_busy_s()
        ours = (cpu_s(self.pids) + cpu_s(self.also) - self.server0) + \
            (children_cpu_s() - self.children0)
        self.other_cpus = max(0.0, (busy - self.busy0) - ours) / dt
        self.steal_cpus = (steal - self.steal0) / dt
        self.drops = udp_rcvbuf_errors() - self.drops0


# ---------------------------------------------------------------------------
# dnsperf

def dnsperf(port, datafile, cpu, outdir, tag, clients=16, outstanding=100, seconds=None,
            max_runs=None, qps=None, timeout_s=5, verbose=False, mode=None, options=()):
    """Run dnsperf against 127.0.0.1:@port; returns its statistics as a dict
    (sent, completed, lost, rcodes, qps, run_s, avg_latency_s and, if @verbose,
    latencies_s: one per answered query). Output is kept in @outdir/@tag.out.
    @mode is dnsperf's -m (udp by default; dot, doh), @options its -O name=value."""
    cmd = ["nice", "-n", str(peers.NICE), "taskset", "-c", str(cpu),
           "dnsperf", "-s", "127.0.0.1", "-p", str(port),
           "-d", datafile, "-c", str(clients), "-q", str(outstanding), "-t", str(timeout_s)]
    if seconds:
        cmd += ["-l", str(seconds)]
    if max_runs:
        cmd += ["-n", str(max_runs)]
    if qps:
        cmd += ["-Q", str(qps)]
    if verbose:
        cmd.append("-v")
    if mode:
        cmd += ["-m", mode]
    for o in options:
        cmd += ["-O", o]
    out_path = os.path.join(outdir, tag + ".out")
    with open(out_path, "w") as out:
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
    with open(out_path) as f:
        text = f.read()
    if rc != 0:
        raise RuntimeError("dnsperf failed (%d); see %s" % (rc, out_path))
    return parse_dnsperf(text, verbose, out_path)


def parse_dnsperf(text, verbose, where):
    def num(label):
        m = re.search(r"^\s*" + re.escape(label) + r":\s+([0-9.]+)", text, re.M)
        if not m:
            raise RuntimeError("dnsperf output has no %r; see %s" % (label, where))
        return float(m.group(1))

    r = {"sent": int(num("Queries sent")), "completed": int(num("Queries completed")),
         "lost": int(num("Queries lost")), "run_s": num("Run time (s)"),
         "qps": num("Queries per second"), "rcodes": {}}
    r["avg_latency_s"] = num("Average Latency (s)") if r["completed"] else float("nan")
    m = re.search(r"^\s*Response codes:\s+(.*)$", text, re.M)
    if m:
        for code, n in re.findall(r"([A-Z]+) (\d+)", m.group(1)):
            r["rcodes"][code] = int(n)
    if verbose:     # "> NOERROR www.zone001.test A 0.000187" per answered query
        r["latencies_s"] = []
        for line in text.splitlines():
            if line.startswith("> "):
                try:
                    r["latencies_s"].append(float(line.rsplit(None, 1)[1]))
                except ValueError:
                    pass
    return r


def answered_ok(r):
    """Share of the queries sent that came back NOERROR."""
    return r["rcodes"].get("NOERROR", 0) / r["sent"] if r["sent"] else 0.0


# ---------------------------------------------------------------------------
# The figures

def verify(server, qs, dnssec):
    """Ask every question of @qs once with dnspython and compare with the zone data;
    if @dnssec, answers from signed zones must also be marked AD (validated).
    Returns a list of problems (empty: every answer right)."""
    problems = []
    timeouts = 0
    for name, rtype in qs.questions:
        q = dns.message.make_query(name, rtype)
        q.flags |= dns.flags.AD     # RFC 6840 5.7: ask for the AD bit
        try:
            a = dns.query.udp(q, "127.0.0.1", port=server.port, timeout=VERIFY_TIMEOUT_S)
            timeouts = 0
        except Exception as e:  # noqa: BLE001 (a timeout or a bad packet: both are a failure)
            problems.append("%s %s: %s" % (name, rtype, type(e).__name__))
            timeouts += 1
            if timeouts == VERIFY_GIVE_UP:
                problems.append("(gave up after %d timeouts in a row)" % timeouts)
                break
            continue
        rrset = a.get_rrset(a.answer, dns.name.from_text(name), dns.rdataclass.IN,
                            dns.rdatatype.from_text(rtype)) if a.answer else None
        got = {rd.to_text() for rd in rrset} if rrset else set()
        if a.rcode() != dns.rcode.NOERROR or got != qs.expected[(name, rtype)]:
            problems.append("%s %s: %s %s" % (name, rtype, dns.rcode.to_text(a.rcode()),
                                              sorted(got)))
        elif dnssec and (name, rtype) in qs.signed and not a.flags & dns.flags.AD:
            problems.append("%s %s: not validated (no AD)" % (name, rtype))
    return problems


def settled_memory(server, step_s=0.2, max_s=3.0):
    """memory_bytes() once it stops moving: a server binds its port before it has
    finished allocating (unbound's caches come a moment later)."""
    last = memory_bytes(server.pids(), server.dir)
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        time.sleep(step_s)
        now = memory_bytes(server.pids(), server.dir)
        if now == last:
            break
        last = now
    return last


def cold(server, datafile, n_rrsets, prefix, exclude, simnet_pids, cpu, outdir, outstanding):
    """Start @server with an empty cache and resolve every question once: wall
    time, CPU time, upstream queries (captured from before the start, so priming
    counts), and memory per cached RRset (see memory_bytes). Leaves the server
    running, warm. The simnet's processes (@simnet_pids) work for the run: they are
    not background."""
    cap = capture_mod.Capture(prefix, exclude=exclude)
    cap.start()
    try:
        server.start()
        mem0 = settled_memory(server)
        cpu0 = cpu_s(server.pids())
        with Background(server.pids(), simnet_pids) as bg:
            r = dnsperf(server.port, datafile, cpu, outdir, server.name + "-cold", clients=4,
                        outstanding=outstanding, max_runs=1, seconds=COLD_LIMIT_S,
                        timeout_s=COLD_TIMEOUT_S)
        # memory once it stops moving, as at the start: what the cache holds,
        # not the last resolutions' scratch on its way back to the system
        cpu1 = cpu_s(server.pids())
        mem1 = settled_memory(server)
        time.sleep(0.3)         # late retries still count
        queries = cap.queries
    finally:
        cap.stop()
    # every upstream query, one a line, for diffing resolvers (bench/README.md)
    tag = server.name + ("-cold-validating" if server.dnssec else "-cold")
    with open(os.path.join(outdir, tag + "-upstream.txt"), "a") as f:
        f.write("".join("%s %s %s %s\n" % (q.qname, q.qtype, q.dst, q.proto) for q in queries))
        f.write("--\n")
    by_type = {}
    for q in queries:
        by_type[q.qtype] = by_type.get(q.qtype, 0) + 1
    return {"wall_s": r["run_s"], "cpu_s": cpu1 - cpu0, "upstream": len(queries),
            "upstream_by_type": by_type,
            "upstream_tcp": sum(1 for q in queries if q.proto == "tcp"),
            "memory_before": mem0, "memory_after": mem1,
            "bytes_per_rrset": (mem1 - mem0) / n_rrsets,
            "answered": answered_ok(r), "other_cpus": bg.other_cpus, "dnsperf": r}


def throughput(server, datafile, cpu, outdir, tag, seconds, clients=16, outstanding=100):
    """dnsperf at maximum rate on cached questions: QPS and the server's CPU
    microseconds per answered query."""
    with Background(server.pids()) as bg:
        cpu0 = cpu_s(server.pids())
        r = dnsperf(server.port, datafile, cpu, outdir, tag, seconds=seconds, clients=clients,
                    outstanding=outstanding)
        cpu1 = cpu_s(server.pids())
    return {"qps": r["qps"], "cpu_us": (cpu1 - cpu0) * 1e6 / max(r["completed"], 1),
            "answered": answered_ok(r), "other_cpus": bg.other_cpus, "steal_cpus": bg.steal_cpus,
            "drops": bg.drops, "dnsperf": r}


def throughput_encrypted(server, mode, datafile, cpu, outdir, tag, seconds, clients=16,
                         outstanding=100):
    """Like throughput(), over DoT (@mode "dot") or DoH ("doh": HTTP/2 over TLS, GET
    /dns-query?dns=): each of dnsperf's @clients is one connection, kept for the run
    (its handshake counts, once). QPS and the server's CPU microseconds per answered
    query."""
    port = server.dot_port if mode == "dot" else server.doh_port
    options = ["doh-uri=https://127.0.0.1:%d/dns-query" % port, "doh-method=GET"] \
        if mode == "doh" else []
    with Background(server.pids()) as bg:
        cpu0 = cpu_s(server.pids())
        r = dnsperf(port, datafile, cpu, outdir, tag, seconds=seconds, clients=clients,
                    outstanding=outstanding, mode=mode, options=options)
        cpu1 = cpu_s(server.pids())
    return {"qps": r["qps"], "cpu_us": (cpu1 - cpu0) * 1e6 / max(r["completed"], 1),
            "answered": answered_ok(r), "other_cpus": bg.other_cpus, "steal_cpus": bg.steal_cpus,
            "drops": bg.drops, "dnsperf": r}


def handshakes(server, resume, qname, cpu, outdir, tag, seconds):
    """New DoT connections one after another for @seconds (bench/handshake.py, pinned to
    @cpu): each a full TLS handshake, or (@resume) one resuming the previous connection's
    session, then one cached query @qname. Connections per second, the server's CPU
    microseconds per connection, and the share that was resumed."""
    cmd = ["nice", "-n", str(peers.NICE), "taskset", "-c", str(cpu), sys.executable,
           os.path.join(os.path.dirname(os.path.abspath(__file__)), "handshake.py"),
           str(server.dot_port), str(seconds), "resume" if resume else "new", qname]
    with Background(server.pids()) as bg:
        cpu0 = cpu_s(server.pids())
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=seconds + 60).stdout
        cpu1 = cpu_s(server.pids())
    with open(os.path.join(outdir, tag + ".out"), "w") as f:
        f.write(out)
    try:
        r = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError("handshake.py: no result; see %s" % os.path.join(outdir, tag + ".out"))
    n = r["connections"]
    if n == 0:
        raise RuntimeError("no DoT connection succeeded (%d failed)" % r["failed"])
    return {"per_s": n / r["seconds"], "cpu_us": (cpu1 - cpu0) * 1e6 / n,
            "resumed": r["resumed"] / n, "failed": r["failed"],
            "answered": n / (n + r["failed"]), "other_cpus": bg.other_cpus,
            "steal_cpus": bg.steal_cpus, "drops": bg.drops}


def percentile(values, p):
    """The @p-th percentile (nearest rank) of @values."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def latency(server, datafile, cpu, outdir, rate, seconds, outstanding=100):
    """dnsperf at a fixed rate, every query's latency: average and 99th percentile (s)."""
    with Background(server.pids()) as bg:
        r = dnsperf(server.port, datafile, cpu, outdir, server.name + "-latency", qps=rate,
                    seconds=seconds, outstanding=outstanding, verbose=True)
    lat = r.pop("latencies_s")
    return {"avg_s": statistics.fmean(lat) if lat else float("nan"),
            "p99_s": percentile(lat, 99), "answered": answered_ok(r),
            "achieved_qps": r["qps"], "other_cpus": bg.other_cpus, "steal_cpus": bg.steal_cpus,
            "drops": bg.drops, "dnsperf": r}


def callgrind_total(path):
    """The instruction count (Ir) of one callgrind dump."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    if not m:
        raise RuntimeError("no summary in %s" % path)
    return int(m.group(1))


def callgrind_dump(server, pattern):
    """Dump the counters of @server's callgrind (since the last zero); returns the total."""
    before = set(glob.glob(pattern.replace("%p", str(server.pid)) + ".*"))
    subprocess.run(["callgrind_control", "-d", str(server.pid)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = set(glob.glob(pattern.replace("%p", str(server.pid)) + ".*")) - before
        if new:
            time.sleep(0.2)     # let it finish writing
            return sum(callgrind_total(p) for p in new)
        time.sleep(0.1)
    raise RuntimeError("callgrind wrote no dump for %s" % server.name)


def callgrind_zero(server):
    subprocess.run(["callgrind_control", "-z", str(server.pid)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=60)


def instructions(server, datafile, n_names, n_queries, cpu, outdir, mode=None):
    """User-space instructions per cache-hit query under callgrind: warm the cache
    (two passes), zero the counters, send @n_queries cached queries, dump; then
    zero, stay idle as long, dump; (queries - idle) / answered. With @mode "dot" or
    "doh", the cached queries go over one DoT or DoH connection (warming stays UDP)."""
    pattern = os.path.join(outdir, "callgrind-%s%s.%%p" % (server.name,
                                                           "-" + mode if mode else ""))
    port, options = server.port, []
    if mode == "dot":
        port = server.dot_port
    elif mode == "doh":
        port = server.doh_port
        options = ["doh-uri=https://127.0.0.1:%d/dns-query" % port, "doh-method=GET"]
    server.start(callgrind_out=pattern)
    try:
        tag = server.name + "-callgrind"
        w = dnsperf(server.port, datafile, cpu, outdir, tag + "-warm", clients=1, outstanding=10,
                    max_runs=2, timeout_s=10)
        if answered_ok(w) < 0.9:
            raise RuntimeError("under callgrind, only %.0f%% answered while warming"
                               % (100 * answered_ok(w)))
        callgrind_zero(server)
        t0 = time.monotonic()
        if mode:
            tag += "-" + mode
        r = dnsperf(port, datafile, cpu, outdir, tag, clients=1, outstanding=10,
                    max_runs=max(1, n_queries // n_names), timeout_s=30, mode=mode,
                    options=options)
        busy_s = time.monotonic() - t0
        busy = callgrind_dump(server, pattern)
        callgrind_zero(server)
        time.sleep(busy_s)
        idle = callgrind_dump(server, pattern)
    finally:
        server.stop()
    return {"per_query": (busy - idle) / max(r["completed"], 1), "busy": busy, "idle": idle,
            "queries": r["completed"], "answered": answered_ok(r), "busy_s": busy_s}


def cachebench(binary, workdir, records, seconds):
    """One run of bench/cachebench.c on fresh caches: {figure: value}, other_cpus."""
    d = os.path.join(workdir, "cachebench")
    with Background([]) as bg:
        out = subprocess.run(["nice", "-n", str(peers.NICE), binary, d, str(records),
                              str(seconds)], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
    subprocess.run(["rm", "-rf", d], check=True)
    r = {key: float(value) for key, value in (line.split() for line in out.splitlines())}
    r["other_cpus"] = bg.other_cpus
    return r


def medians(runs):
    """{figure: {median, min, max}} over a list of runs (dicts of figures)."""
    keys = [k for k in runs[0] if k not in ("other_cpus", "retries")]
    return {k: {"median": statistics.median(r[k] for r in runs),
                "min": min(r[k] for r in runs), "max": max(r[k] for r in runs)} for k in keys}
