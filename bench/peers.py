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
ENCRYPTED_CONNS_MAX = 64    # unbound's incoming-num-tcp (its default of 10 is below dnsperf -c 16)

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
    "DoT and DoH: tern, unbound and kresd each listen on two more 127.0.0.1 ports with the same "
    "throwaway test certificate (EC P-256, made with the openssl CLI in the work directory): "
    "tern --listen tls:// and https://; unbound tls-service-pem/key with tls-port and "
    "https-port (and incoming-num-tcp: %d, as its default of 10 connections per thread refuses "
    "dnsperf's 16); kresd net.tls() with net.listen kind 'tls' and 'doh2'. DoH is HTTP/2 over "
    "TLS, GET with ?dns=. pdns_recursor 4.8 has no DoT or DoH server: no figure."
    % ENCRYPTED_CONNS_MAX,
    "Upstreams over IPv4 only for all (the simnet has no IPv6): tern --upstream-ipv6 no, "
    "unbound do-ip6: no, kresd net.ipv6 = false, pdns_recursor query-local-address=0.0.0.0 "
    "(its default). With IPv6 on, unbound also asks AAAA of every nameserver name.",
]


def _bound(table, port, state=None):
    """True when a socket in /proc/net/@table is bound to 127.0.0.1 (or any) :@port, in
    @state if given (TCP "0A": listening). Reads /proc: sends nothing."""
    want = ":%04X" % port
    try:
        with open("/proc/net/" + table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1].endswith(want) and (state is None or fields[3] == state) and \
                        fields[1].split(":")[0] in ("0100007F", "00000000"):
                    return True
    except OSError:
        pass
    return False


def port_bound(port):
    """True when some socket is bound to UDP 127.0.0.1:@port."""
    return _bound("udp", port)


def tcp_listening(port):
    """True when some socket listens on TCP 127.0.0.1:@port."""
    return _bound("tcp", port, "0A")


def make_pki(directory):
    """A throwaway test CA and a server certificate for 127.0.0.1 and localhost (EC
    P-256, two days), made with the openssl CLI in @directory: (cert, key) paths.
    Every server's DoT and DoH listeners use the same pair."""
    os.makedirs(directory, exist_ok=True)

    def run(*cmd):
        subprocess.run(cmd, check=True, cwd=directory, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return os.path.join(directory, "server.pem"), os.path.join(directory, "server.key")


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
    serves_encrypted = False  # True if it has DoT and DoH listeners (set_encrypted)

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
        self.dot_port = self.doh_port = None     # DoT and DoH listeners, if any
        self.tls_cert = self.tls_key = None

    def set_encrypted(self, cert, key, dot_port, doh_port):
        """Listen for DoT on @dot_port and DoH (HTTP/2, /dns-query) on @doh_port too, with
        the certificate chain @cert and its key @key (PEM), from the next start on."""
        self.tls_cert, self.tls_key = cert, key
        self.dot_port, self.doh_port = dot_port, doh_port

    def encrypted_ports(self):
        return [p for p in (self.dot_port, self.doh_port) if p]

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
        for port in self.encrypted_ports():
            while not tcp_listening(port):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("%s does not listen on TCP 127.0.0.1:%d; see %s" % (
                        self.name, port, self.log.name))
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
    serves_encrypted = True

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
        if self.dot_port:
            cmd += ["--listen", "tls://127.0.0.1:%d" % self.dot_port]
        if self.doh_port:
            cmd += ["--listen", "https://127.0.0.1:%d" % self.doh_port]
        if self.tls_cert:
            cmd += ["--tls-cert", self.tls_cert, "--tls-key", self.tls_key]
        return cmd

    def version(self):
        return version_of([self.ternd, "--version"])


class Unbound(Server):
    name = "unbound"
    serves_encrypted = True

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
           msg=CACHE_MB // 4, rrset=CACHE_MB // 2) + self.encrypted_conf())

    def encrypted_conf(self):
        """DoT on tls-port and DoH (HTTP/2 over TLS, /dns-query by default) on https-port:
        unbound serves each on the interfaces whose port is that one."""
        if not self.tls_cert:
            return ""
        lines = ["    tls-service-key: \"%s\"" % self.tls_key,
                 "    tls-service-pem: \"%s\"" % self.tls_cert]
        if self.dot_port:
            lines += ["    interface: 127.0.0.1@%d" % self.dot_port,
                      "    tls-port: %d" % self.dot_port]
        if self.doh_port:
            lines += ["    interface: 127.0.0.1@%d" % self.doh_port,
                      "    https-port: %d" % self.doh_port]
        # its default of 10 TCP/TLS connections per thread refuses dnsperf's 16
        lines.append("    incoming-num-tcp: %d" % ENCRYPTED_CONNS_MAX)
        # the options above come after remote-control: reopen the server clause
        return "server:\n" + "\n".join(lines) + "\n"

    def command(self):
        return ["unbound", "-d", "-c", self.conf]

    def version(self):
        return version_of(["sh", "-c", "unbound -V | sed -n 's/^Version /unbound /p'"])


class Kresd(Server):
    name = "kresd"
    serves_encrypted = True

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
        if self.tls_cert:
            conf = ["net.tls('%s', '%s')" % (self.tls_cert, self.tls_key)]
            if self.dot_port:
                conf.append("net.listen('127.0.0.1', %d, { kind = 'tls' })" % self.dot_port)
            if self.doh_port:   # HTTP/2 over TLS, /dns-query and /doh
                conf.append("net.listen('127.0.0.1', %d, { kind = 'doh2' })" % self.doh_port)
            with open(os.path.join(self.dir, "config"), "a") as f:
                f.write("\n".join(conf) + "\n")

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
