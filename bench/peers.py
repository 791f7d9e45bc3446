"""bench/peers: each server under test, configured alike, started and stopped by PID.

Every resolver gets: one worker thread, its own 127.0.0.1 port, the simnet's root
hints with loopback upstreams allowed, QNAME minimisation on, query logging off, a
cache big enough for the whole query set, and its own directory (on tmpfs) for its
config and cache. DNSSEC validation is a switch (off until tern validates): when on,
the trust anchor is the simnet's root.ds. Each process is pinned to one CPU with
taskset and runs at nice -20 (so that other work on a shared machine
disturbs it less), and may be run under callgrind.

A server is started afresh (empty cache) by start() and stopped by stop(); the
PIDs it started are the only ones it ever signals.
"""

import os
import shutil
import signal
import subprocess
import time

READY_TIMEOUT_S = 15
READY_TIMEOUT_VALGRIND_S = 120
STOP_TIMEOUT_S = 10
STOP_TIMEOUT_VALGRIND_S = 60
CACHE_MB = 256
NICE = -20      # servers and load generator: other work on a shared machine yields to them

# What the report should say about the setup, where it is not quite like for like.
FAIRNESS_NOTES = [
    "Each peer needed one change of its defaults for the simnet, and only that: unbound answers "
    "test. itself by default (local-zone \"test.\" nodefault); kresd refuses test. "
    "(policy.special_names emptied) and ignores loopback upstreams (ALLOW_LOCAL set in the "
    "context options, so no per-query Lua rule); pdns_recursor refuses loopback upstreams "
    "(dont-query emptied). unbound: do-not-query-localhost: no.",
    "Every other setting is the package's default. None of the peers prefetches or serves "
    "stale data by default: tern runs with --prefetch no --serve-stale 0 to match.",
    "Caches: tern --cache-size 256M and kresd 256 MB, LMDB files on tmpfs; unbound msg 64m + "
    "rrset 128m and pdns_recursor 1M records and a 500k-entry packet cache (its defaults), on "
    "the heap. Memory = growth of the process's anonymous RSS plus that of the LMDB pages in "
    "use (mdb_stat), divided by the RRsets the answers hold (the same number for all). Not "
    "counted: kresd fallocates its whole 256 MB cache file at start, which on tmpfs is RAM.",
    "pdns_recursor answers repeated questions from its packet cache, unbound and kresd from "
    "their record caches: each runs its own normal fast path.",
    "Every server and dnsperf run at nice -20, so that other work on this shared machine "
    "yields to them; it still moves the timings (see the background note).",
    "Only the worker is pinned alone: pdns_recursor's helper threads (web/stat, task) and "
    "tern's main thread share the server CPU with it and count in its CPU time.",
    "Upstream queries are counted at the simnet by capture, per resolver while the others "
    "sit idle (warm, with TTLs of an hour: they send nothing meanwhile).",
    "Upstreams over IPv4 only for all (the simnet has no IPv6): tern --upstream-ipv6 no, "
    "unbound do-ip6: no, kresd net.ipv6 = false, pdns_recursor query-local-address=0.0.0.0 "
    "(its default). With IPv6 on, unbound also asks AAAA of every nameserver name.",
]


def port_bound(port):
    """True when some socket is bound to UDP 127.0.0.1:@port (read from /proc: sends nothing)."""
    want = ":%04X" % port
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                local = line.split()[1]
                if local.endswith(want) and local.split(":")[0] in ("0100007F", "00000000"):
                    return True
    except OSError:
        pass
    return False


def version_of(cmd):
    """First line of a version command's output, or '?'."""
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10,
                             universal_newlines=True).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for line in out.splitlines():
        if line.strip():
            return line.strip()
    return "?"


class Server:
    """One server under test. Subclasses say how to configure and run it."""
    name = "?"
    is_peer = True          # counted when looking for the best peer
    resolves = True         # False for the ceiling: no cold run, no memory figure

    def __init__(self, workdir, port, simnet_dir, cpu, dnssec):
        self.dir = os.path.join(workdir, self.name)
        self.port = port
        self.hints = os.path.join(simnet_dir, "root.hints")
        self.root_ds = os.path.join(simnet_dir, "root.ds")
        self.cpu = cpu
        self.dnssec = dnssec
        self.proc = None
        self.log = None
        self.notes = []     # anything the report should say about this server's setup

    # --- to override ---------------------------------------------------------
    def configure(self):
        """Write config files into self.dir (fresh, empty)."""

    def command(self):
        raise NotImplementedError

    def version(self):
        return "?"

    # --- common ------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def pids(self):
        """Every process whose CPU time counts (all are single-process today)."""
        return [self.pid] if self.proc else []

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, callgrind_out=None):
        """Start afresh with an empty cache; under callgrind if @callgrind_out (a file
        pattern with %p) is given. Waits until the UDP port is bound."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.configure()
        cmd = ["nice", "-n", str(NICE), "taskset", "-c", str(self.cpu)]
        if callgrind_out:
            cmd += ["valgrind", "--tool=callgrind", "--trace-children=yes",
                    "--callgrind-out-file=" + callgrind_out]
        cmd += self.command()
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        env = dict(os.environ, KRESD_NO_LISTEN="1")
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + (READY_TIMEOUT_VALGRIND_S if callgrind_out else READY_TIMEOUT_S)
        while not port_bound(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s at start; see %s" % (
                    self.name, self.proc.returncode, self.log.name))
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not bind 127.0.0.1:%d; see %s" % (
                    self.name, self.port, self.log.name))
            time.sleep(0.05)

    def stop(self):
        """SIGTERM the process we started (SIGKILL after a timeout) and reap it."""
        if self.proc is None:
            return
        valgrind = "valgrind" in self.proc.args
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_VALGRIND_S if valgrind else STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def write(self, fname, text):
        with open(os.path.join(self.dir, fname), "w") as f:
            f.write(text)
        return os.path.join(self.dir, fname)


class Tern(Server):
    name = "tern"
    is_peer = False

    def __init__(self, *args, ternd, **kw):
        super().__init__(*args, **kw)
        self.ternd = ternd
        help_text = subprocess.run([ternd, "--help"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True).stdout
        self.flags = {f for f in ("--dnssec", "--trust-anchor", "--prefetch", "--serve-stale")
                      if f + " " in help_text}
        if self.dnssec and "--trust-anchor" not in self.flags:
            self.notes.append("tern: no --trust-anchor flag, so no validation even with --dnssec")

    def command(self):
        cmd = [self.ternd, "--listen", "127.0.0.1:%d" % self.port, "--root-hints", self.hints,
               "--cache-dir", os.path.join(self.dir, "cache"), "--cache-size", "%dM" % CACHE_MB,
               "--threads", "1", "--qname-minimisation", "relaxed", "--upstream-ipv6", "no",
               "--verbosity", "1"]
        # like the peers' defaults: no prefetch, no serve-stale
        if "--prefetch" in self.flags:
            cmd += ["--prefetch", "no"]
        if "--serve-stale" in self.flags:
            cmd += ["--serve-stale", "0"]
        if "--dnssec" in self.flags:
            cmd += ["--dnssec", "yes" if self.dnssec else "no"]
        if self.dnssec and "--trust-anchor" in self.flags:
            cmd += ["--trust-anchor", self.root_ds]
        return cmd

    def version(self):
        return version_of([self.ternd, "--version"])


class Unbound(Server):
    name = "unbound"

    def configure(self):
        if self.dnssec:
            modules = 'module-config: "validator iterator"\n    trust-anchor-file: "%s"' % self.root_ds
        else:
            modules = 'module-config: "iterator"'
        self.conf = self.write("unbound.conf", """\
server:
    interface: 127.0.0.1@{port}
    port: {port}
    num-threads: 1
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    log-queries: no
    log-replies: no
    root-hints: "{hints}"
    # the simnet's servers are on 127.x: allow loopback upstreams
    do-not-query-localhost: no
    # the simnet has no IPv6: upstreams over IPv4 only, like the others
    do-ip6: no
    # test. is a special-use name that unbound answers itself by default
    local-zone: "test." nodefault
    qname-minimisation: yes
    {modules}
    msg-cache-size: {msg}m
    rrset-cache-size: {rrset}m
remote-control:
    control-enable: no
""".format(port=self.port, dir=self.dir, hints=self.hints, modules=modules,
           msg=CACHE_MB // 4, rrset=CACHE_MB // 2))

    def command(self):
        return ["unbound", "-d", "-c", self.conf]

    def version(self):
        return version_of(["sh", "-c", "unbound -V | sed -n 's/^Version /unbound /p'"])


class Kresd(Server):
    name = "kresd"

    def configure(self):
        if self.dnssec:
            ta = "trust_anchors.remove('.')\ntrust_anchors.add_file('%s', true)" % self.root_ds
        else:
            ta = "trust_anchors.remove('.')   -- no validation"
        self.write("config", """\
log_level('notice')
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
cache.open({mb} * MB, 'lmdb://{dir}/cache')
_hint_root_file('{hints}')
{ta}
-- the simnet's servers are on 127.x: allow loopback upstreams (copied into every request)
kres.context().options.ALLOW_LOCAL = true
-- the simnet has no IPv6: upstreams over IPv4 only, like the others
net.ipv6 = false
-- test. is a special-use name that kresd refuses by default
policy.special_names = {{}}
""".format(port=self.port, mb=CACHE_MB, dir=self.dir, hints=self.hints, ta=ta))
        # kresd 5 runs QNAME minimisation (relaxed) unless NO_MINIMIZE is set: left on.

    def command(self):
        return ["kresd", "-n", "-c", "config", self.dir]

    def version(self):
        return version_of(["kresd", "--version"])


class PdnsRecursor(Server):
    name = "pdns_recursor"

    def configure(self):
        lines = [
            "local-address=127.0.0.1",
            "local-port=%d" % self.port,
            "threads=1",
            "pdns-distributes-queries=no",
            "hint-file=" + self.hints,
            "dont-query=",                 # the simnet's servers are on 127.x
            "query-local-address=0.0.0.0", # IPv4 upstreams only (the default; the simnet has no IPv6)
            "qname-minimization=yes",
            "quiet=yes",
            "log-common-errors=no",
            "disable-syslog=yes",
            "daemon=no",
            "write-pid=no",
            "socket-dir=" + self.dir,
            "security-poll-suffix=",       # no status query to secpoll.powerdns.com
            "max-cache-entries=1000000",
            "max-packetcache-entries=500000",
        ]
        if self.dnssec:
            with open(self.root_ds) as f:
                ds = [line.split(None, 4)[4].strip() for line in f if " DS " in line]
            self.write("ta.lua", "clearTA('.')\n" + "".join("addTA('.', '%s')\n" % d for d in ds))
            lines += ["dnssec=validate", "lua-config-file=" + os.path.join(self.dir, "ta.lua")]
        else:
            lines.append("dnssec=off")
        self.write("recursor.conf", "\n".join(lines) + "\n")

    def command(self):
        return ["pdns_recursor", "--config-dir=" + self.dir]

    def version(self):
        return version_of(["sh", "-c", "pdns_recursor --version 2>&1 | grep -o 'Recursor [0-9.]*'"])


class Ceiling(Server):
    """bench/ceiling.c: a bare UDP responder, the packet path's ceiling."""
    name = "ceiling"
    is_peer = False
    resolves = False

    def __init__(self, *args, binary, **kw):
        super().__init__(*args, **kw)
        self.binary = binary

    def command(self):
        return [self.binary, "127.0.0.1", str(self.port)]

    def version(self):
        return "bench/ceiling.c (recvmmsg/sendmmsg, fixed A answer)"
