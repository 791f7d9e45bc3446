"""QNAME minimisation (RFC 9156), seen from the authoritative servers: with it
on, no server is shown more than one label below its own zone cut; with it off,
the root is shown the whole name."""

import dns.rcode
import pytest

DEEP = "a.b.c.d.e.f.deep.test"
WORKLOAD = [(DEEP, "A"), ("www.zone050.test", "AAAA"), ("www.glueless2.test", "A"),
            ("www.cname-a.test", "A"), ("x.f.deep.test", "A"), ("nx.e.f.deep.test", "TXT")]


def labels(name):
    return 0 if name in (".", "") else name.rstrip(".").count(".") + 1


def too_revealing(simnet, q):
    """Why query @q shows its server more than it needs, or None.

    A server that serves zone Z, asked about a name below a zone cut under Z,
    needs to see at most labels(Z) + 1 labels: enough to find the cut."""
    dst = simnet.info["slow"].get(q.dst, q.dst)     # the slow proxy forwards to its backend
    served = simnet.served_at(dst)
    name = q.qname + "."
    enclosing = [z for z in served if z == "." or name == z or name.endswith("." + z)]
    if not enclosing:
        return None                                  # a lame server: it serves nothing here
    zone = max(enclosing, key=labels)
    cut_below = any(z != zone and labels(z) > labels(zone) and
                    (name == z or name.endswith("." + z)) for z in simnet.zones)
    if cut_below and labels(q.qname) > labels(zone) + 1:
        return "%s (zone %s) was shown %s %s" % (q.dst, zone, q.qname, q.qtype)
    return None


@pytest.mark.parametrize("mode", [None, "relaxed", "strict"])
def test_no_server_sees_more_than_one_label_below_its_zone_cut(ternd, capture, simnet, mode):
    t = ternd(*(["--qname-minimisation", mode] if mode else []))
    for name, rdtype in WORKLOAD:
        r = t.query(name, rdtype)
        assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), (name, r)
    r = t.query(DEEP, "A")
    assert {rd.to_text() for rrset in r.answer for rd in rrset} == {"10.21.0.1"}

    seen = capture.queries
    root = set(simnet.addrs("."))
    assert any(q.dst in root for q in seen), "a cold resolver starts at the root"
    assert all(labels(q.qname) <= 1 for q in seen if q.dst in root), \
        [q for q in seen if q.dst in root]
    tld = set(simnet.addrs("test."))
    assert all(labels(q.qname) <= 2 for q in seen if q.dst in tld), \
        [q for q in seen if q.dst in tld]
    problems = [p for p in (too_revealing(simnet, q) for q in seen) if p]
    assert problems == []


def test_root_sees_the_full_name_when_minimisation_is_off(ternd, capture, simnet):
    t = ternd("--qname-minimisation", "off")
    r = t.query(DEEP, "A")
    assert {rd.to_text() for rrset in r.answer for rd in rrset} == {"10.21.0.1"}
    root = set(simnet.addrs("."))
    assert DEEP in [q.qname for q in capture.queries if q.dst in root], capture.queries


def test_minimisation_mode_from_config_file(ternd, capture, simnet):
    t = ternd(config_text="# tests/net\nqname-minimisation off\n")
    r = t.query(DEEP, "A")
    assert r.rcode() == dns.rcode.NOERROR
    root = set(simnet.addrs("."))
    assert DEEP in [q.qname for q in capture.queries if q.dst in root], capture.queries


def test_command_line_overrides_config_file(ternd, capture, simnet):
    t = ternd("--qname-minimisation", "strict", config_text="qname-minimisation off\n")
    assert t.query(DEEP, "A").rcode() == dns.rcode.NOERROR
    root = set(simnet.addrs("."))
    assert all(labels(q.qname) <= 1 for q in capture.queries if q.dst in root), capture.queries
