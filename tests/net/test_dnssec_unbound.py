"""tern beside Unbound: every DNSSEC case of dnssec_cases.py asked of both, on the
same simulated internet with the same trust anchor; rcode, AD and the answer data
must agree. Where they legitimately differ (tern treats SHA-1 algorithms as
unsupported, RFC 9905; Unbound 1.17 validates them) the case records Unbound's
answer and why, and tern is held to its own. Each difference is reported as a
warning (pytest's warnings summary), and the whole table, EDEs included, is written
to unbound-comparison.txt in the simnet's run directory.

Needs the `unbound` binary (Debian package unbound); skipped without it. The
Unbound started here runs in the foreground on a free port of 127.0.0.1 with a
temporary directory, no chroot, no user switch, no logging, no remote control,
and is stopped (by its pid) at the end of the module."""

import os
import shutil
import subprocess
import time
import warnings

import dns.exception
import dns.flags
import dns.message
import dns.query
import pytest

import dnssec_cases as dc
from conftest import free_port, ternd_binary, trust_anchor_args

# Bugs that change rcode, AD or the data (the others only miss an EDE, which is not compared).
COMPARED_BUGS = {dc.BUG_WILDCARD_PROOF_DROPPED, dc.BUG_BOGUS_WILDCARD_CACHED_SECURE}
START_TIMEOUT_S = 10


def unbound_binary():
    return shutil.which("unbound") or next(
        (p for p in ("/usr/sbin/unbound", "/usr/local/sbin/unbound") if os.access(p, os.X_OK)),
        None)


def unbound_conf(workdir, port, simnet, ede=True):
    lines = [
        "server:",
        "    interface: 127.0.0.1",
        "    port: %d" % port,
        "    do-ip6: no",
        "    num-threads: 1",
        '    chroot: ""',
        '    username: ""',
        '    directory: "%s"' % workdir,
        '    pidfile: "%s"' % os.path.join(workdir, "unbound.pid"),
        "    use-syslog: no",
        '    logfile: ""',
        "    verbosity: 0",
        "    val-log-level: 0",
        "    do-not-query-localhost: no",      # the simnet is on 127.x
        "    qname-minimisation: yes",
        '    module-config: "validator iterator"',
        '    root-hints: "%s"' % simnet.root_hints,
        '    trust-anchor-file: "%s"' % simnet.root_ds,
        '    local-zone: "test." nodefault',    # RFC 6761: Unbound answers test. itself
        "    aggressive-nsec: no",              # each answer on its own, whatever the order
    ]
    if ede:
        lines.append("    ede: yes")            # Unbound 1.16+: EDEs, shown in the table
    lines += ["remote-control:", "    control-enable: no"]
    path = os.path.join(workdir, "unbound.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Unbound:
    def __init__(self, binary, workdir, simnet):
        self.addr, self.port = "127.0.0.1", free_port()
        conf = unbound_conf(workdir, self.port, simnet)
        checkconf = os.path.join(os.path.dirname(binary), "unbound-checkconf")
        if os.access(checkconf, os.X_OK) and subprocess.run(
                [checkconf, conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            conf = unbound_conf(workdir, self.port, simnet, ede=False)     # older: no ede:
        self.log = open(os.path.join(workdir, "unbound.log"), "wb")
        self.proc = subprocess.Popen([binary, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, cwd=workdir)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited with %d: see %s" % (
                    self.proc.returncode, self.log.name))
            try:
                self.query(".", "NS", timeout=0.5)
                return
            except (dns.exception.Timeout, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("unbound does not answer on port %d" % self.port)
                time.sleep(0.05)

    def query(self, name, rdtype, timeout=5):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.tcp(q, self.addr, port=self.port, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def unbound(simnet, tmp_path_factory):
    binary = unbound_binary()
    if not binary:
        pytest.skip("no unbound binary (Debian package unbound): nothing to compare with")
    if not trust_anchor_args(ternd_binary(), simnet):
        pytest.skip("ternd cannot be told to trust the simulated root's key")
    u = Unbound(binary, str(tmp_path_factory.mktemp("unbound")), simnet)
    yield u
    u.stop()


def ask_tern(t, c):
    r = t.query(c.qname, c.qtype, dnssec=True)
    if r.flags & dns.flags.TC:
        r = t.query(c.qname, c.qtype, dnssec=True, tcp=True)
    return r


def compared(s):
    """rcode, AD, data: what must agree (EDEs differ in taste: Unbound says DNSKEY
    Missing where tern names the expired signature)."""
    return s[:3]


def params():
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)]
                         if c.bug in COMPARED_BUGS else []) for c in dc.ALL]


@pytest.mark.parametrize("c", params())
def test_same_rcode_ad_and_data_as_unbound(ternd, unbound, simnet, c):
    tern = dc.summary(ask_tern(ternd(), c), c.qname, c.qtype)
    ub = dc.summary(unbound.query(c.qname, c.qtype), c.qname, c.qtype)
    if c.unbound:
        rcode, ad, why = c.unbound
        assert (ub[0], ub[1]) == (rcode, ad), "Unbound no longer answers as documented: %s" % (ub,)
        assert (tern[0], tern[1]) == (c.rcode, c.ad), tern
        warnings.warn("%s %s: tern %s AD=%s, Unbound %s AD=%s: %s" % (
            c.qname, c.qtype, tern[0], tern[1], ub[0], ub[1], why))
        return
    assert compared(tern) == compared(ub), "%s %s: tern %s, Unbound %s" % (c.qname, c.qtype, tern, ub)


def test_comparison_table(ternd, unbound, simnet):
    """Every case against both, in one table (EDEs included); any difference in
    rcode, AD or data is either documented (Case.unbound) or a known tern bug."""
    t = ternd()
    rows, unexplained = [], []
    for c in dc.ALL:
        tern = dc.summary(ask_tern(t, c), c.qname, c.qtype)
        ub = dc.summary(unbound.query(c.qname, c.qtype), c.qname, c.qtype)
        same = compared(tern) == compared(ub)
        note = "" if same else ("documented: " + c.unbound[2][:60] + "..." if c.unbound
                                else "tern bug: " + c.bug[:60] + "..." if c.bug in COMPARED_BUGS
                                else "UNEXPLAINED")
        if note == "UNEXPLAINED":
            unexplained.append((c.id, tern, ub))
        rows.append((c.qname + " " + c.qtype, "%s %s EDE%s" % (tern[0], "AD" if tern[1] else "--",
                                                             list(tern[3])),
                     "%s %s EDE%s" % (ub[0], "AD" if ub[1] else "--", list(ub[3])),
                     "same" if same else "DIFFERENT", note))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["%-*s  %-*s  %-*s  %-*s  %s" % (width[0], "question", width[1], "tern",
                                             width[2], "Unbound", width[3], "", "")]
    lines += ["%-*s  %-*s  %-*s  %-*s  %s" % (width[0], r[0], width[1], r[1], width[2], r[2],
                                              width[3], r[3], r[4]) for r in rows]
    table = "\n".join(l.rstrip() for l in lines) + "\n"
    with open(os.path.join(simnet.dir, "unbound-comparison.txt"), "w") as f:
        f.write(table)
    print(table)
    assert not unexplained, "tern and Unbound differ, and no case says why:\n%s" % "\n".join(
        map(str, unexplained))
