"""The UDP fast path answers cache hits without building a request; it must
give exactly what the full path gives. TCP always takes the full path, so the
same cached question over UDP and TCP is compared field by field."""

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

CASES = [
    ("www.zone007.test", "A"),
    ("zone012.test", "MX"),
    ("WwW.ZoNe007.TeSt", "A"),          # the question's case is echoed
    ("medium.big.test", "A"),           # 40 records: fits 1232, not 512
    ("www.cname-a.test", "A"),          # a chain: full path only
    ("nx.zone007.test", "A"),           # negative: full path only
]


def ask(t, name, rdtype, tcp, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    fn = dns.query.tcp if tcp else dns.query.udp
    return fn(q, t.addr, port=t.port, timeout=5, ignore_trailing=False)


def shape(msg):
    """Everything but the ID and the TTLs (compared apart: a second may tick)."""
    def sec(rrsets):
        return sorted((r.name.to_text(), r.rdtype, r.rdclass,
                       tuple(sorted(rd.to_text() for rd in r))) for r in rrsets)
    return (msg.flags, msg.rcode(), msg.question[0].name.to_text(), msg.edns, msg.payload,
            sec(msg.answer), sec(msg.authority), sec(msg.additional))


def ttls(msg):
    return sorted((r.name.to_text(), r.rdtype, r.ttl) for r in msg.answer + msg.authority)


@pytest.mark.parametrize("name,rdtype", CASES)
@pytest.mark.parametrize("variant", [
    {},                                               # no EDNS
    {"use_edns": 0, "payload": 1232},
    {"use_edns": 0, "payload": 4096},
    {"use_edns": 0, "payload": 100},                 # below 512: treated as 512
    {"use_edns": 0, "payload": 1232, "want_dnssec": True},
])
def test_udp_cache_hit_matches_the_full_path(ternd, name, rdtype, variant):
    t = ternd()
    t.note(name)
    first = ask(t, name, rdtype, tcp=True)           # resolves and fills the cache
    assert first.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
    full = ask(t, name, rdtype, tcp=True, **variant)
    udp = ask(t, name, rdtype, tcp=False, **variant)
    if udp.flags & dns.flags.TC:
        # too big for this UDP size: the full path truncates; nothing to compare
        assert not full.flags & dns.flags.TC
        return
    assert shape(udp) == shape(full)
    for (n1, t1, ttl1), (n2, t2, ttl2) in zip(ttls(udp), ttls(full)):
        assert (n1, t1) == (n2, t2) and abs(ttl1 - ttl2) <= 1
    assert udp.question[0].name.to_text() == dns.name.from_text(name).to_text()


def test_fast_path_keeps_the_client_flags(ternd):
    t = ternd()
    t.note("www.zone008.test")
    ask(t, "www.zone008.test", "A", tcp=False)
    for flags in (dns.flags.RD, dns.flags.RD | dns.flags.CD, 0):
        q = dns.message.make_query("www.zone008.test", "A")
        q.flags = flags
        r = dns.query.udp(q, t.addr, port=t.port, timeout=5)
        assert r.id == q.id
        assert r.flags & dns.flags.QR and r.flags & dns.flags.RA
        assert not r.flags & dns.flags.AA
        assert bool(r.flags & dns.flags.RD) == bool(flags & dns.flags.RD)
        assert bool(r.flags & dns.flags.CD) == bool(flags & dns.flags.CD)


def test_repeated_hits_match_the_full_path_and_count_down(ternd):
    """From the second UDP hit on, the answer comes from the worker's memo of
    the cache (resolver/fastpath.c): the same bytes as the full path, any
    case of the name, and TTLs that keep counting down."""
    import time
    t = ternd()
    t.note("www.zone009.test")
    ask(t, "www.zone009.test", "A", tcp=True)
    for name in ("www.zone009.test", "WWW.zone009.TEST", "www.zone009.test"):
        for variant in ({}, {"use_edns": 0, "payload": 1232}):
            udp = ask(t, name, "A", tcp=False, **variant)
            full = ask(t, name, "A", tcp=True, **variant)
            assert shape(udp) == shape(full)
            assert udp.question[0].name.to_text() == dns.name.from_text(name).to_text()
            for (n1, t1, ttl1), (n2, t2, ttl2) in zip(ttls(udp), ttls(full)):
                assert (n1, t1) == (n2, t2) and abs(ttl1 - ttl2) <= 1
    before = ask(t, "www.zone009.test", "A", tcp=False).answer[0].ttl
    time.sleep(2.1)
    after = ask(t, "www.zone009.test", "A", tcp=False).answer[0].ttl
    assert before - 3 <= after <= before - 1


def test_long_queries_over_udp_are_answered_whole(ternd):
    """A query longer than the compact receive slot (512 bytes; here padded
    with an EDNS option of a local-use code) spills into a second buffer and is made
    whole for the full path: the answer is the one a short query gets."""
    t = ternd()
    t.note("www.zone010.test")
    short = ask(t, "www.zone010.test", "A", tcp=False, use_edns=0, payload=1232)
    for pad in (400, 499, 500, 1000, 3000):
        opt = dns.edns.GenericOption(65001, b"\0" * pad)
        q = dns.message.make_query("www.zone010.test", "A", use_edns=0, payload=4096, options=[opt])
        assert len(q.to_wire()) > 400
        r = dns.query.udp(q, t.addr, port=t.port, timeout=5)
        assert r.id == q.id and r.rcode() == dns.rcode.NOERROR
        assert sorted(rd.to_text() for rd in r.answer[0]) == \
            sorted(rd.to_text() for rd in short.answer[0])
