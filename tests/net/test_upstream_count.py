"""Upstream queries of a cold resolution, counted at the authoritative servers
(issue 6: a cold run sends no query it did not need). Validation is off here
unless said, so that the counts are those of iteration alone (DS and DNSKEY
queries are the validator's business).

- a name under a delegation with glue: priming, one minimised probe per cut
  above it, the question itself: nothing else;
- a delegation whose NS names live in another zone (no glue at the parent):
  the referral to the NS names' own zone carries their addresses as glue, and
  they are not asked for again;
- a minimised probe and a full question for the same name at the same cut,
  arriving together in either order: the cut is asked about once.
"""

import collections
import socket
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

NO_DNSSEC = ("--dnssec", "no", "--qname-minimisation", "relaxed")


def zones_with_ns(simnet, glued):
    """zoneNNN.test zones whose NS names are in the zone itself (@glued) or in hostN.net."""
    out = []
    for z, info in sorted(simnet.zones.items()):
        if not (z.startswith("zone") and z.endswith(".test.")):
            continue
        if all(ns.endswith("." + z) for ns in info["ns"]) == glued:
            out.append(z.rstrip("."))
    return out


def sent(capture):
    return collections.Counter((q.qname, q.qtype) for q in capture.queries)


def answered(t, name, rdtype, simnet):
    r = t.query(name, rdtype)
    assert r.rcode() == dns.rcode.NOERROR, (name, rdtype, r)
    got = {rd.to_text() for rrset in r.answer for rd in rrset}
    assert got == simnet.expected(name, rdtype), (name, rdtype, r)


def test_delegation_with_glue_costs_one_query_per_cut(ternd, capture, simnet):
    zone = zones_with_ns(simnet, glued=True)[0]
    t = ternd(*NO_DNSSEC)
    answered(t, "www." + zone, "A", simnet)
    assert sent(capture) == collections.Counter({
        (".", "NS"): 1,               # priming (RFC 8109)
        ("test", "A"): 1,             # root: referral to test.
        (zone, "A"): 1,               # test.: referral with glue
        ("www." + zone, "A"): 1,      # the question, at the zone's server
    }), capture.queries
    # the same zone again: the cut and its addresses are cached
    capture.clear()
    answered(t, "mail." + zone, "A", simnet)
    assert sent(capture) == collections.Counter({("mail." + zone, "A"): 1}), capture.queries


def test_ns_addresses_come_from_the_glue_of_their_own_zone(ternd, capture, simnet):
    zone = zones_with_ns(simnet, glued=False)[0]
    ns = [n.rstrip(".") for n in simnet.zones[zone + "."]["ns"]]
    host = ns[0].split(".", 1)[1]                     # hostN.net
    t = ternd(*NO_DNSSEC)
    answered(t, "www." + zone, "A", simnet)
    assert sent(capture) == collections.Counter({
        (".", "NS"): 1,
        ("test", "A"): 1,
        (zone, "A"): 1,               # test.: referral to NS names in hostN.net, no glue
        ("net", "A"): 1,              # root: referral to net.
        (host, "A"): 1,               # net.: referral to hostN.net with the NS addresses
        ("www." + zone, "A"): 1,      # no query for the NS names themselves
    }), capture.queries
    # the NS name's address, asked by a client, is the right one, and it is
    # asked of its zone: glue is never an answer (RFC 2181 5.4.1), on either
    # path (a UDP fast-path miss, then the full path over TCP)
    capture.clear()
    answered(t, ns[0], "A", simnet)
    assert sent(capture) == collections.Counter({(ns[0], "A"): 1}), capture.queries
    capture.clear()
    r = t.query(ns[0], "A", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r
    assert capture.queries == [], "the zone's answer replaced the glue in the cache"


def test_ns_addresses_from_glue_when_validating(ternd, capture, simnet):
    """Validation on (the simnet's trust anchor): the NS names are still not asked."""
    zone = zones_with_ns(simnet, glued=False)[1]
    ns = {n.rstrip(".") for n in simnet.zones[zone + "."]["ns"]}
    t = ternd()
    answered(t, "www." + zone, "A", simnet)
    assert [q for q in capture.queries if q.qname in ns] == []


def send_together(port, questions, timeout_s=5, dnssec=False):
    """Send @questions [(name, type)] back to back from one socket (so that the
    resolver has them all before any upstream reply), then collect the replies."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        wires = [dns.message.make_query(n, t, want_dnssec=dnssec) for n, t in questions]
        msgs = {w.id: q for w, q in zip(wires, questions)}
        for w in wires:
            s.sendto(w.to_wire(), ("127.0.0.1", port))
        replies = {}
        s.settimeout(timeout_s)
        deadline = time.monotonic() + timeout_s
        while len(replies) < len(wires) and time.monotonic() < deadline:
            r = dns.message.from_wire(s.recv(65535))
            if r.id in msgs:
                replies[msgs[r.id]] = r
        return replies
    finally:
        s.close()


@pytest.mark.parametrize("order", ["probe_first", "full_first"])
def test_probe_and_full_question_for_one_name_ask_the_cut_once(ternd, capture, simnet, order):
    """www.Z A minimises to "Z A" at test.; "Z MX" is Z's own question there. Asked
    together, whichever goes first, test. is asked about Z once: the other
    waits for the same referral."""
    zones = zones_with_ns(simnet, glued=True)[:8]
    t = ternd(*NO_DNSSEC)
    answered(t, "test", "TXT", simnet)              # primed, test. cached
    capture.clear()
    for z in zones:
        pair = [("www." + z, "A"), (z, "MX")]
        if order == "full_first":
            pair.reverse()
        replies = send_together(t.port, pair)
        for q in pair:
            r = replies.get(q)
            assert r is not None and r.rcode() == dns.rcode.NOERROR, (q, r)
            got = {rd.to_text() for rrset in r.answer for rd in rrset}
            assert got == simnet.expected(*q), (q, r)
    tld = set(simnet.addrs("test."))
    at_tld = collections.Counter(q.qname for q in capture.queries if q.dst in tld)
    assert at_tld == collections.Counter({z: 1 for z in zones}), capture.queries
    # and nothing else was asked twice either
    assert sum(sent(capture).values()) == 3 * len(zones), capture.queries


@pytest.mark.parametrize("order", ["probe_first", "full_first"])
def test_shared_probe_keeps_answers_validated(ternd, capture, simnet, order):
    """Validation on: answers under signed zones, asked together as above, are
    still secure (AD), and each zone's DNSKEY is asked for once."""
    zones = [z.rstrip(".") for z, i in sorted(simnet.zones.items())
             if z.startswith("zone") and z.endswith(".test.") and i["signed"]][:8]
    t = ternd()
    capture.clear()
    for z in zones:
        pair = [("www." + z, "A"), (z, "MX")]
        if order == "full_first":
            pair.reverse()
        replies = send_together(t.port, pair, dnssec=True)
        for q in pair:
            r = replies.get(q)
            assert r is not None and r.rcode() == dns.rcode.NOERROR, (q, r)
            assert r.flags & dns.flags.AD, (q, r)
    keys = collections.Counter(q.qname for q in capture.queries if q.qtype == "DNSKEY")
    assert all(keys[z] == 1 for z in zones), keys
