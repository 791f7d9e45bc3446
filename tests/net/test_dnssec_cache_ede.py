"""DNSSEC verdicts and their extended errors (RFC 8914) from the cache: the
reason an answer is insecure (EDE 1 unsupported DNSKEY algorithm, 2 unsupported
DS digest, 27 NSEC3 iterations above the limit; none for a plain unsigned
delegation) or bogus is cached with the data, so the second answer (from the
cache: nothing goes upstream) has the rcode, flags and EDE, code and text, of
the first, fresh one, whatever the client's EDNS, DO, CD and AD. Plain insecure
questions take the fast path (resolver/fastpath.c), the others the full path."""

import socket
import struct

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest

import dnssec_cases as dc
from conftest import ternd_binary, trust_anchor_args


@pytest.fixture(autouse=True)
def trust_anchor(simnet):
    if not trust_anchor_args(ternd_binary(), simnet):
        pytest.skip("ternd cannot be told to trust the simulated root's key")


C = dc.case
CASES = [
    # unsupported DNSKEY algorithm (RSASHA1 is treated as unsupported; 253 private)
    C("www.rsasha1.test", "A", "NOERROR", False, dc.EDE_UNSUPPORTED_ALG),
    C("nx.rsasha1.test", "A", "NXDOMAIN", False, dc.EDE_UNSUPPORTED_ALG),
    C("www.private-alg.test", "A", "NOERROR", False, dc.EDE_UNSUPPORTED_ALG),
    C("nx.private-alg.test", "A", "NXDOMAIN", False, dc.EDE_UNSUPPORTED_ALG),
    C("www.private-alg.test", "MX", "NOERROR", False, dc.EDE_UNSUPPORTED_ALG),
    # unsupported DS digest type
    C("www.ds-digest-unknown.test", "A", "NOERROR", False, dc.EDE_UNSUPPORTED_DIGEST),
    C("nx.ds-digest-unknown.test", "A", "NXDOMAIN", False, dc.EDE_UNSUPPORTED_DIGEST),
    C("www.ds-digest-unknown.test", "MX", "NOERROR", False, dc.EDE_UNSUPPORTED_DIGEST),
    # NSEC3 iterations above the RFC 9276 limit: only the denials are insecure
    C("nx.iter500.test", "A", "NXDOMAIN", False, dc.EDE_NSEC3_ITERATIONS),
    C("www.iter500.test", "MX", "NOERROR", False, dc.EDE_NSEC3_ITERATIONS),
    # a plain unsigned delegation: insecure, nothing more to say
    C("www.insecure.test", "A", "NOERROR", False),
    C("nx.insecure.test", "A", "NXDOMAIN", False),
    C("www.insecure.test", "MX", "NOERROR", False),
    C("www.deep.test", "A", "NXDOMAIN", False),
    # bogus: SERVFAIL with the reason (the data with CD)
    C("www.expired.test", "A", "SERVFAIL", False, dc.EDE_SIG_EXPIRED, cd_rcode="NOERROR"),
    C("www.bad-ds.test", "A", "SERVFAIL", False, dc.EDE_DNSKEY_MISSING, cd_rcode="NOERROR"),
    C("www.nosig.test", "A", "SERVFAIL", False, dc.EDE_RRSIGS_MISSING, cd_rcode="NOERROR"),
    C("nx.nsec-gap.test", "A", "SERVFAIL", False, dc.EDE_NSEC_MISSING, cd_rcode="NXDOMAIN"),
]

# (id, query keywords): no EDNS; EDNS; EDNS and AD; DO; DO and CD; EDNS and CD
FLAGS = [("noedns", dict(use_edns=False)),
         ("edns", dict()),
         ("edns-ad", dict(ad=True)),
         ("do", dict(dnssec=True)),
         ("do-cd", dict(dnssec=True, cd=True)),
         ("edns-cd", dict(cd=True))]


def ask(t, c, kw):
    r = t.query(c.qname, c.qtype, **kw)
    if r.flags & dns.flags.TC:
        r = t.query(c.qname, c.qtype, tcp=True, **kw)
    return r


def what(r):
    """What the two answers must share: rcode, header flags, EDNS and its DO,
    every EDE (code and text), and the answer section without TTLs."""
    edes = [(int(o.code), o.text) for o in r.options if o.otype == dns.edns.OptionType.EDE]
    answer = sorted((rrset.name.to_text().lower(), rrset.rdtype, rrset.covers,
                     tuple(sorted(rd.to_text() for rd in rrset))) for rrset in r.answer)
    return (dns.rcode.to_text(r.rcode()), dns.flags.to_text(r.flags), r.edns,
            dns.flags.edns_to_text(r.ednsflags), edes, answer)


def expect(c, kw, r):
    """The first answer is what dnssec_cases says, for these flags."""
    cd = kw.get("cd", False)
    rcode = c.cd_rcode if cd and c.cd_rcode else c.rcode
    assert dns.rcode.to_text(r.rcode()) == rcode, r
    assert not r.flags & dns.flags.AD, r
    codes = [code for code, _ in what(r)[4]]
    want = [] if kw.get("use_edns") is False or (cd and c.cd_rcode) or c.ede is None else [c.ede]
    assert codes == want, r


@pytest.mark.parametrize("flags", [kw for _, kw in FLAGS], ids=[i for i, _ in FLAGS])
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_cached_answer_has_the_rcode_flags_and_ede_of_the_fresh_one(ternd, capture, c, flags):
    t = ternd()
    first = ask(t, c, flags)
    expect(c, flags, first)
    assert capture.queries, "the first answer must come from upstream"
    capture.clear()
    for _ in range(2):          # the second fills the fast path's memo, the third uses it
        again = ask(t, c, flags)
        assert what(again) == what(first), "fresh:\n%s\ncached:\n%s" % (first, again)
    assert capture.queries == [], "a cached answer must not ask upstream"


@pytest.mark.parametrize("c", [c for c in CASES if not c.cd_rcode], ids=lambda c: c.id)
def test_insecure_verdict_cached_by_one_client_gives_every_client_its_ede(ternd, capture, c):
    # filled by a DO query (with its RRSIGs), answered to every other kind of
    # client from the cache, plain ones by the fast path: the same EDE text
    t = ternd()
    first = ask(t, c, dict(dnssec=True))
    expect(c, dict(dnssec=True), first)
    capture.clear()
    for _, kw in FLAGS:
        r = ask(t, c, kw)
        expect(c, kw, r)
        if r.edns >= 0:
            assert what(r)[4] == what(first)[4], r
    assert capture.queries == [], "a cached answer must not ask upstream"



def raw(t, wire, tcp):
    """The reply's bytes to @wire over UDP or TCP."""
    fam, kind = socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(fam, kind) as s:
        s.settimeout(5)
        s.connect((t.addr, t.port))
        if not tcp:
            s.send(wire)
            return s.recv(65535)
        s.sendall(struct.pack("!H", len(wire)) + wire)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = s.recv(65535)
            assert chunk, "TCP closed early"
            buf += chunk
        return buf[2:]


@pytest.mark.parametrize("name", ["www.rsasha1.test", "www.private-alg.test",
                                  "www.ds-digest-unknown.test", "www.insecure.test"])
@pytest.mark.parametrize("variant", [dict(use_edns=False), dict(use_edns=0),
                                     dict(use_edns=0, payload=4096)],
                         ids=["noedns", "edns", "4096"])
@pytest.mark.parametrize("ad", [False, True], ids=["", "ad"])
def test_fast_path_insecure_hit_is_the_full_paths_bytes(ternd, name, variant, ad):
    # TCP always takes the full path, UDP the fast path: the same cached entry
    # gives the same bytes, EDE option and all (the TTLs may tick: try again)
    t = ternd()
    t.note(name)
    first = t.query(name, "A", dnssec=True)
    assert first.rcode() == dns.rcode.NOERROR and not first.flags & dns.flags.AD, first
    q = dns.message.make_query(name, "A", id=4242, **variant)
    if ad:
        q.flags |= dns.flags.AD
    wire = q.to_wire()
    for _ in range(2):          # the second UDP answer comes from the fast path's memo
        for _ in range(3):
            full, udp = raw(t, wire, True), raw(t, wire, False)
            if full == udp:
                break
        assert udp == full, "%s\n%s" % (dns.message.from_wire(udp), dns.message.from_wire(full))
