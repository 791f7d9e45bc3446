"""tests/net fixtures: the simulated internet, ternd, packet capture, dig.

simnet   (session) the simulated internet, started once and stopped at the end;
         a simnet someone already runs in tests/net/run is used and left running.
ternd    (factory) ternd(*args, config_text=None, listen=None, cache_dir=None,
         root_hints=None) starts the resolver on a free port with the simnet's root
         hints (or @root_hints, e.g. fakeauth's, then without the simnet's anchor); at
         teardown it must exit 0 on SIGTERM and its stderr must not contain any
         name the test asked it about (tern never logs query names).
capture  packets to the simnet's servers during the test (see capture.py).

The binary is $TERND, else ../../ternd from here (an in-tree build). Extra flags
for every ternd can be given in $TERND_EXTRA_ARGS (e.g. "--verbosity 3").
"""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.zone
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import capture as capture_mod  # noqa: E402
import simnet as simnet_ctl  # noqa: E402

TERND_START_TIMEOUT_S = 5
TERND_STOP_TIMEOUT_S = 5
QUERY_TIMEOUT_S = 5
DIG_TIMEOUT_S = 20


# ---------------------------------------------------------------------------
# The simulated internet.

class Simnet:
    """A running simulated internet: its files, its model, the expected data."""

    def __init__(self, info):
        self.info = info
        self.dir = info["dir"]
        self.prefix = info["prefix"]
        self.root_hints = os.path.join(self.dir, "root.hints")
        self.root_ds = os.path.join(self.dir, "root.ds")
        self.root_key = os.path.join(self.dir, "root.key")
        self.zones = info["zones"]
        self.groups = info["groups"]
        self._loaded = {}

    def addrs(self, zone):
        """The addresses the delegation of @zone (absolute) names."""
        return self.zones[zone]["addrs"]

    def served_at(self, addr):
        """The zones the knotd at @addr serves."""
        for g in self.groups.values():
            if addr in g["addrs"]:
                return list(g["zones"])
        return []

    def zone(self, name):
        """The unsigned zone @name (absolute) as a dns.zone.Zone."""
        if name not in self._loaded:
            fname = simnet_ctl.zone_file_name(name)
            self._loaded[name] = dns.zone.from_file(
                os.path.join(self.info["unsigned_dir"], fname), origin=name, relativize=False)
        return self._loaded[name]

    def closest_zone(self, name):
        return simnet_ctl.closest_zone(self.zones, name.lower().rstrip(".") + ".")

    def expected(self, name, rdtype):
        """The set of rdata texts of (@name, @rdtype) in its zone's data."""
        name = name.rstrip(".") + "."
        rrset = self.zone(self.closest_zone(name)).get_rdataset(name, rdtype)
        return {rd.to_text() for rd in rrset} if rrset else set()


@pytest.fixture(scope="session")
def simnet():
    if os.geteuid() != 0:
        pytest.skip("the simulated internet binds port 53 on 127.53.x.y: run as root")
    rundir = os.environ.get("SIMNET_DIR", simnet_ctl.DEFAULT_DIR)
    ours = not simnet_ctl.status(rundir)
    if not ours:
        with open(os.path.join(rundir, "simnet.json")) as f:
            # start() will restart it on our prefix: then it is ours to stop.
            ours = json.load(f)["prefix"] != simnet_ctl.prefix_from_env()
    try:
        info = simnet_ctl.start(rundir, quiet=True)
        yield Simnet(info)
    finally:
        if ours:
            simnet_ctl.stop(rundir)


@pytest.fixture
def capture(simnet):
    # The slow proxy's own queries to its backend are not the resolver's.
    cap = capture_mod.Capture(simnet.prefix, exclude=simnet.info["slow"].values())
    cap.start()
    try:
        yield cap
    finally:
        cap.stop()


# ---------------------------------------------------------------------------
# ternd.

def norm(name):
    return name.rstrip(".").lower()


_handed_out = set()


def free_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on @host, and never handed out before in this
    run: the kernel may give the same free port to two bind(0) calls in a row, and a
    test that asks for two ports binds neither until ternd starts."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            if (host, port) in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((host, port))
                except OSError:
                    continue
                _handed_out.add((host, port))
                return port
    raise RuntimeError("no free port on %s" % host)


def ternd_binary():
    path = os.environ.get("TERND")
    if path:
        if not os.access(path, os.X_OK):
            pytest.fail("TERND=%s is not an executable file" % path)
        return os.path.abspath(path)
    path = os.path.normpath(os.path.join(HERE, "..", "..", "ternd"))
    if os.access(path, os.X_OK):
        return path
    pytest.skip("no ternd binary: build it and set TERND=/path/to/ternd "
                "(or build in-tree, which leaves ./ternd at the top)")


_help_cache = {}


def ternd_help(binary):
    if binary not in _help_cache:
        try:
            r = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=10)
            _help_cache[binary] = r.stdout
        except (OSError, subprocess.TimeoutExpired):
            _help_cache[binary] = ""
    return _help_cache[binary]


def trust_anchor_args(binary, net):
    """The flag that makes ternd trust the simulated root's key, if it has one.

    The default anchor is the real root's (Debian's dns-root-data); under it
    every simulated answer would be bogus."""
    m = re.search(r"--(trust-anchor(?:-file)?)\b", ternd_help(binary))
    return ["--" + m.group(1), net.root_ds] if m else []


class Ternd:
    def __init__(self, binary, argv, workdir, addr, port):
        self.binary = binary
        self.argv = argv
        self.workdir = workdir
        self.addr = addr
        self.port = port
        self.stderr_path = os.path.join(workdir, "ternd.stderr")
        self.asked = set()          # every name this test asked about, for the privacy check
        self.proc = None
        self.returncode = None

    def start(self):
        self._err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._err,
                                     stderr=self._err, cwd=self.workdir)
        deadline = time.monotonic() + TERND_START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                pytest.fail("ternd exited with %d before listening\n%s\n%s" % (
                    self.proc.returncode, " ".join(self.argv), self.stderr_text()))
            try:
                socket.create_connection((self.addr, self.port), timeout=0.2).close()
                return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("ternd did not accept TCP on %s:%d within %d s\n%s" % (
                    self.addr, self.port, TERND_START_TIMEOUT_S, self.stderr_text()))
            time.sleep(0.02)

    def stop(self):
        """SIGTERM, then SIGKILL after a while; returns the exit code (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TERND_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = "killed: no exit within %d s of SIGTERM" % TERND_STOP_TIMEOUT_S
        if self.returncode is None:
            self.returncode = self.proc.returncode
        self._err.close()
        return self.returncode

    def crash(self):
        """SIGKILL, as a crash or the OOM killer would; not a failure at teardown."""
        self.proc.kill()
        self.proc.wait()
        self.returncode = 0
        self._err.close()

    def stderr_text(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def note(self, *names):
        """Record names this test asked about by some other path (getent, dig)."""
        self.asked.update(norm(n) for n in names)

    def query(self, name, rdtype="A", tcp=False, timeout=QUERY_TIMEOUT_S, dnssec=False, cd=False,
              ad=False, payload=1232, use_edns=0, rd=True):
        """Ask ternd one question with dnspython; returns the dns.message.Message."""
        self.note(name)
        q = dns.message.make_query(name, rdtype, use_edns=use_edns, payload=payload,
                                   want_dnssec=dnssec)
        if not rd:
            q.flags &= ~dns.flags.RD
        if cd:
            q.flags |= dns.flags.CD
        if ad:
            q.flags |= dns.flags.AD
        if tcp:
            return dns.query.tcp(q, self.addr, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.addr, port=self.port, timeout=timeout, ignore_trailing=True)

    def dig(self, name, rdtype="A", *opts, tool="dig"):
        """Ask with the real dig or kdig; returns a DigResult."""
        self.note(name)
        return run_dig(tool, self.addr, self.port, name, rdtype, *opts)


@pytest.fixture
def ternd(simnet, tmp_path):
    binary = ternd_binary()
    started = []

    def start(*extra_args, config_text=None, listen=None, cache_dir=None, threads=1,
              root_hints=None):
        n = len(started)
        workdir = tmp_path / ("ternd%d" % n)
        workdir.mkdir()
        if listen is None:
            addr, port = "127.0.0.1", free_port()
        else:
            addr, port = listen.rsplit(":", 1)
            port = int(port)
        cache_dir = cache_dir or str(workdir / "cache")
        os.makedirs(cache_dir, exist_ok=True)
        argv = [binary]
        if config_text is not None:
            conf = workdir / "ternd.conf"
            conf.write_text(config_text)
            argv += ["--config", str(conf)]
        argv += ["--listen", "%s:%d" % (addr, port),
                 "--root-hints", root_hints or simnet.root_hints,
                 "--cache-dir", cache_dir, "--threads", str(threads)]
        if root_hints is None:
            argv += trust_anchor_args(binary, simnet)
        elif "--dnssec" in ternd_help(binary):
            # another root (e.g. fakeauth's) is unsigned: under the real root's
            # anchor every answer from it would be bogus
            argv += ["--dnssec", "no"]
        argv += shlex.split(os.environ.get("TERND_EXTRA_ARGS", ""))
        argv += list(extra_args)
        t = Ternd(binary, argv, str(workdir), addr, port)
        t.cache_dir = cache_dir
        started.append(t)
        return t.start()

    yield start

    problems = []
    for t in started:
        code = t.stop()
        if code != 0:
            problems.append("ternd did not exit 0 on SIGTERM (got %s)\n%s" % (code, t.stderr_text()))
        err = t.stderr_text().lower()
        leaked = sorted(n for n in t.asked if n and "." in n and n in err)
        if leaked:
            problems.append("ternd's stderr names queried names %s (tern must never log query "
                            "names)\n%s" % (leaked, t.stderr_text()))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# ---------------------------------------------------------------------------
# dig and kdig.

class DigResult:
    def __init__(self, cmd, stdout, stderr, returncode):
        self.cmd, self.stdout, self.stderr, self.returncode = cmd, stdout, stderr, returncode
        self.status = None
        self.flags = set()
        self.sections = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
        section = None
        for line in stdout.splitlines():
            m = re.search(r"status: (\w+)", line)
            if m and self.status is None:
                self.status = m.group(1)
            m = re.match(r";; [Ff]lags: ([a-z ]*);", line)
            if m and not self.flags:
                self.flags = set(m.group(1).split())
            m = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if m:
                section = m.group(1)
                continue
            if not line.strip():
                section = None
                continue
            if line.startswith(";") or section is None:
                continue
            f = line.split(None, 4)
            if len(f) == 5 and f[2] == "IN":
                self.sections[section].append((norm(f[0]), int(f[1]), f[3], f[4].strip()))

    @property
    def answer(self):
        return self.sections["ANSWER"]

    @property
    def authority(self):
        return self.sections["AUTHORITY"]

    def rdata(self, rdtype):
        return {r[3] for r in self.answer if r[2] == rdtype}

    def __repr__(self):
        return "%s\n%s%s" % (" ".join(self.cmd), self.stdout, self.stderr)


def run_dig(tool, server, port, name, rdtype, *opts):
    bounds = ["+time=5", "+tries=1"] if tool == "dig" else ["+timeout=5", "+retry=0"]
    cmd = [tool, "@%s" % server, "-p", str(port), name, rdtype] + bounds + list(opts)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=DIG_TIMEOUT_S)
    return DigResult(cmd, r.stdout, r.stderr, r.returncode)


@pytest.fixture
def dig():
    """dig(server, port, name, type, *opts, tool="dig") straight at any server."""
    def run(server, port, name, rdtype="A", *opts, tool="dig"):
        return run_dig(tool, server, port, name, rdtype, *opts)
    return run
