"""ternd's cache, seen from outside: repeat questions cost no upstream packets,
TTLs count down, identical questions in flight are resolved once, limits on
TTLs apply, and the cache outlives a restart."""

import select
import socket
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

SETTLE_S = 0.5      # let background work of a resolution (NS addresses, keys) finish


def ttl_of(msg, rdtype="A"):
    t = dns.rdatatype.from_text(rdtype)
    return [rrset.ttl for rrset in msg.answer if rrset.rdtype == t][0]


def upstream(cap, qname=None, qtype=None):
    return [q for q in cap.queries if (qname is None or q.qname == qname)
            and (qtype is None or q.qtype == qtype)]


def test_second_identical_query_sends_nothing_upstream(ternd, capture):
    t = ternd()
    first = t.query("www.zone020.test", "A")
    assert first.rcode() == dns.rcode.NOERROR
    assert upstream(capture, "www.zone020.test", "A"), "the first answer must come from upstream"
    time.sleep(SETTLE_S)
    capture.clear()
    second = t.query("www.zone020.test", "A")
    assert capture.queries == [], "a cache hit must not send anything upstream"
    assert second.rcode() == dns.rcode.NOERROR
    assert {rd.to_text() for rd in second.answer[0]} == {rd.to_text() for rd in first.answer[0]}
    # Over TCP too: the cache is the same whatever the transport.
    third = t.query("www.zone020.test", "A", tcp=True)
    assert capture.queries == [] and third.rcode() == dns.rcode.NOERROR


def test_other_names_in_a_cached_zone_skip_the_root_and_tld(ternd, capture, simnet):
    t = ternd()
    t.query("www.zone021.test", "A")
    time.sleep(SETTLE_S)
    capture.clear()
    r = t.query("mail.zone021.test", "A")
    assert r.rcode() == dns.rcode.NOERROR
    above = set(simnet.addrs(".")) | set(simnet.addrs("test."))
    assert [q for q in capture.queries if q.dst in above] == [], \
        "the zone cut is cached: nothing more to ask the root or test."
    assert {q.dst for q in capture.queries} <= set(simnet.addrs("zone021.test."))


def test_negative_answers_are_cached(ternd, capture):
    t = ternd()
    for name, rdtype, rcode in (("nx.zone022.test", "A", dns.rcode.NXDOMAIN),
                                ("www.zone022.test", "MX", dns.rcode.NOERROR)):
        assert t.query(name, rdtype).rcode() == rcode
        time.sleep(SETTLE_S)
        capture.clear()
        r = t.query(name, rdtype)
        assert r.rcode() == rcode and not r.answer
        assert capture.queries == [], (name, rdtype, capture.queries)


def test_ttl_counts_down_in_cache(ternd):
    t = ternd()
    first = ttl_of(t.query("ttl3600.ttl.test", "A"))
    assert 3590 <= first <= 3600
    time.sleep(2.2)
    second = ttl_of(t.query("ttl3600.ttl.test", "A"))
    assert first - second >= 2 and second > 0, (first, second)


def test_expired_record_is_fetched_again(ternd, capture):
    t = ternd()
    assert ttl_of(t.query("ttl1.ttl.test", "A")) <= 1
    time.sleep(2.5)
    capture.clear()
    r = t.query("ttl1.ttl.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and ttl_of(r) <= 1
    assert upstream(capture, "ttl1.ttl.test", "A"), "an expired record must be asked for again"


def test_negative_answer_expires_with_soa_minimum(ternd, capture):
    # ttl.test's SOA minimum is 2 s (RFC 2308 section 5).
    t = ternd()
    assert t.query("nx.ttl.test", "A").rcode() == dns.rcode.NXDOMAIN
    time.sleep(3)
    capture.clear()
    assert t.query("nx.ttl.test", "A").rcode() == dns.rcode.NXDOMAIN
    assert upstream(capture, "nx.ttl.test", "A")


def test_ttl_max_caps_answer_ttl(ternd):
    t = ternd("--ttl-max", "60")
    assert ttl_of(t.query("ttl86400.ttl.test", "A")) <= 60
    assert ttl_of(t.query("ttl86400.ttl.test", "A")) <= 60      # from cache too


def test_ttl_min_raises_answer_ttl(ternd):
    t = ternd("--ttl-min", "30")
    assert 25 <= ttl_of(t.query("ttl5.ttl.test", "A")) <= 30
    assert 25 <= ttl_of(t.query("ttl5.ttl.test", "A")) <= 30


def ask_all_at_once(addr, port, name, rdtype, n, timeout_s=10):
    """@n clients (each its own socket) ask the same question at the same moment."""
    socks, want = [], {}
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        want[s] = q
        socks.append(s)
    for s in socks:
        s.sendto(want[s].to_wire(), (addr, port))
    answers = {}
    deadline = time.monotonic() + timeout_s
    while len(answers) < n and time.monotonic() < deadline:
        ready, _, _ = select.select([s for s in socks if s not in answers], [], [], 0.1)
        for s in ready:
            r = dns.message.from_wire(s.recv(65535))
            if r.id == want[s].id:
                answers[s] = r
    for s in socks:
        s.close()
    return list(answers.values())


def test_concurrent_identical_queries_cause_one_upstream_query(ternd, capture, simnet):
    # www.slow.test's server answers after 250 ms, so all 20 questions are in flight together.
    t = ternd()
    t.note("www.slow.test")
    answers = ask_all_at_once(t.addr, t.port, "www.slow.test", "A", 20)
    assert len(answers) == 20, "every client gets an answer"
    for r in answers:
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.RA
        assert {rd.to_text() for rrset in r.answer for rd in rrset} == {"10.97.0.1"}
    asked = upstream(capture, "www.slow.test", "A")
    assert len(asked) == 1, "20 identical questions in flight must make one upstream query: %s" % asked


def test_concurrent_different_names_are_all_answered(ternd, simnet):
    t = ternd()
    names = ["www.zone%03d.test" % n for n in range(30, 80)]
    t.note(*names)
    socks = {}
    for name in names:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        q = dns.message.make_query(name, "A")
        s.sendto(q.to_wire(), (t.addr, t.port))
        socks[s] = (name, q.id)
    got = {}
    deadline = time.monotonic() + 10
    while len(got) < len(names) and time.monotonic() < deadline:
        ready, _, _ = select.select([s for s in socks if socks[s][0] not in got], [], [], 0.1)
        for s in ready:
            r = dns.message.from_wire(s.recv(65535))
            if r.id == socks[s][1]:
                got[socks[s][0]] = {rd.to_text() for rrset in r.answer for rd in rrset}
    for s in socks:
        s.close()
    for name in names:
        assert got.get(name) == simnet.expected(name, "A"), name


def test_cache_survives_restart(ternd, capture, tmp_path):
    cache_dir = str(tmp_path / "cache")
    first = ternd(cache_dir=cache_dir)
    assert first.query("www.zone023.test", "A").rcode() == dns.rcode.NOERROR
    time.sleep(SETTLE_S)
    assert first.stop() == 0
    second = ternd(cache_dir=cache_dir)
    capture.clear()
    r = second.query("www.zone023.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    assert upstream(capture, "www.zone023.test") == [], "the cache must outlive a restart"
