"""KeyTrap (CVE-2023-50387): keytrap.test publishes 40 extra DNSKEYs on its ZSK's
key tag (usable RSA keys, 2040-bit exponents: each check ~4 ms) and signs www and
k1..k8 with 40 RRSIGs of that tag and random signatures. A validator that tries
every key for every signature spends 40 x 41 checks (~7 s) per answer; tern's
work limits (resolver/dnssec.h) must answer SERVFAIL at once, and the one worker
must keep serving everyone else meanwhile."""

import os
import threading
import time

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import ternd_binary, trust_anchor_args

TRAP_NAMES = ["www.keytrap.test"] + ["k%d.keytrap.test" % i for i in range(1, 9)]
# ternd's CPU time, not the wall clock: a loaded machine stretches the wall
# time of any answer, never the work done for it. A validator without limits
# spends ~7 s of CPU per trapped answer.
CPU_BOUND_S = 2.0       # all the KeyTrap answers, cold, chain of trust included
OTHER_BOUND_S = 5.0     # any other client's answer meanwhile: within a stub's patience


def cpu_s(t):
    """CPU seconds (user and system) ternd has used so far."""
    with open("/proc/%d/stat" % t.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(autouse=True)
def trust_anchor(simnet):
    if not trust_anchor_args(ternd_binary(), simnet):
        pytest.skip("ternd cannot be told to trust the simulated root's key")


def ask_server(addr, name, rdtype):
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    q.flags &= ~dns.flags.RD
    return dns.query.tcp(q, addr, timeout=5)


def test_keytrap_zone_has_forty_keys_and_signatures_on_one_tag(simnet):
    addr = simnet.addrs("keytrap.test.")[0]
    keys = ask_server(addr, "keytrap.test", "DNSKEY")
    keys = [rd for rrset in keys.answer if rrset.rdtype == dns.rdatatype.DNSKEY for rd in rrset]
    tags = [dns.dnssec.key_id(k) for k in keys]
    zsk_tag = [dns.dnssec.key_id(k) for k in keys if k.flags == 256][0]
    assert tags.count(zsk_tag) == 41, tags
    r = ask_server(addr, "www.keytrap.test", "A")
    sigs = [rd for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG for rd in rrset]
    assert len(sigs) == 40 and {s.key_tag for s in sigs} == {zsk_tag}


def test_keytrap_answers_servfail_quickly_while_another_client_is_served(ternd):
    t = ternd()     # one worker thread: a slow validation would stall the other client
    stop = threading.Event()
    others = []     # (name, rcode, seconds)

    def other_client():
        n = 11
        while not stop.is_set() or len(others) < 10:
            name = "www.zone%03d.test" % n
            t0 = time.monotonic()
            r = t.query(name, "A", dnssec=True)
            others.append((name, r.rcode(), time.monotonic() - t0))
            n = n + 1 if n < 200 else 11

    th = threading.Thread(target=other_client)
    th.start()
    trapped = []
    try:
        time.sleep(0.05)
        cpu0 = cpu_s(t)     # the other client's hits are in it too: a bound above
        for name in TRAP_NAMES:
            r = t.query(name, "A", dnssec=True)
            trapped.append((name, r))
        cpu = cpu_s(t) - cpu0
    finally:
        stop.set()
        th.join(30)
    for name, r in trapped:
        assert r.rcode() == dns.rcode.SERVFAIL, (name, r)
        assert [o.code for o in r.options if o.otype == dns.edns.OptionType.EDE] == [6], r
    assert cpu < CPU_BOUND_S, "the trapped answers took %.2f s of CPU" % cpu
    assert others and all(rc == dns.rcode.NOERROR for _, rc, _ in others), others
    slowest = max(others, key=lambda o: o[2])
    assert slowest[2] < OTHER_BOUND_S, "the other client waited %.2f s for %s" % (
        slowest[2], slowest[0])


def test_keytrap_in_parallel_from_many_clients_stays_bounded(ternd):
    # The same trap asked by 9 clients at once, each name cold.
    t = ternd()
    results = []

    def one(name):
        t0 = time.monotonic()
        r = t.query(name, "A", dnssec=True)
        results.append((name, r.rcode(), time.monotonic() - t0))

    threads = [threading.Thread(target=one, args=(n,)) for n in TRAP_NAMES]
    cpu0 = cpu_s(t)
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    cpu = cpu_s(t) - cpu0
    assert cpu < CPU_BOUND_S, "the trapped answers took %.2f s of CPU" % cpu
    assert sorted(n for n, _, _ in results) == sorted(TRAP_NAMES)
    assert all(rc == dns.rcode.SERVFAIL for _, rc, _ in results), results
    r = t.query("www.zone001.test", "A", dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD
