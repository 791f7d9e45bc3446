"""DNSSEC validation, case by case (dnssec_cases.py, README.md "DNSSEC cases"):
every algorithm, unsupported algorithms and digests, broken chains of trust,
denial proofs (opt-out, too many NSEC3 iterations, holes, wildcards), and what
the cache, CD and DO do with them. Each case checks rcode, AD, the extended DNS
error (RFC 8914) and the answer data."""

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

import dnssec_cases as dc
from conftest import ternd_binary, trust_anchor_args


@pytest.fixture(autouse=True)
def trust_anchor(simnet):
    if not trust_anchor_args(ternd_binary(), simnet):
        pytest.skip("ternd cannot be told to trust the simulated root's key")


def ask(t, c, **kw):
    """Ask @t case @c with DO (and @kw); over TCP when UDP comes back truncated
    (keytrap.test's 40 RRSIGs do not fit 1232 bytes)."""
    r = t.query(c.qname, c.qtype, dnssec=True, **kw)
    if r.flags & dns.flags.TC:
        r = t.query(c.qname, c.qtype, dnssec=True, tcp=True, **kw)
    return r


@pytest.mark.parametrize("c", dc.params(dc.CASES["algorithm"]))
def test_every_algorithm_gives_secure_answers_nxdomain_and_nodata(ternd, simnet, c):
    dc.check(simnet, c, ask(ternd(), c))


@pytest.mark.parametrize("c", dc.params(dc.CASES["insecure"]))
def test_unsigned_or_unsupported_zone_is_insecure_with_its_extended_error(ternd, simnet, c):
    dc.check(simnet, c, ask(ternd(), c))


@pytest.mark.parametrize("c", dc.params(
    dc.CASES["insecure"] + [c for c in dc.ALL if c.ede == dc.EDE_NSEC3_ITERATIONS]))
def test_insecure_answer_from_the_cache_keeps_its_extended_error(ternd, simnet, capture, c):
    # RFC 8914: the EDE (1, 2, 27) explains the verdict, which the cache keeps:
    # the second answer (no upstream query) must say the same as the first,
    # with DO and without (the plain answer may take the fast path).
    t = ternd()
    dc.check(simnet, c, ask(t, c))
    capture.clear()
    dc.check(simnet, c, ask(t, c))
    dc.check(simnet, c, t.query(c.qname, c.qtype))
    assert not [q for q in capture.queries if q.qname.rstrip(".") == c.qname], \
        "the repeats must come from the cache"


@pytest.mark.parametrize("c", dc.params(dc.CASES["bogus"]))
def test_broken_chain_or_proof_is_servfail_with_its_extended_error(ternd, simnet, c):
    dc.check(simnet, c, ask(ternd(), c))


@pytest.mark.parametrize("c", dc.params(dc.CASES["proof"]))
def test_opt_out_iterations_and_wildcard_proofs(ternd, simnet, c):
    dc.check(simnet, c, ask(ternd(), c))


# ---------------------------------------------------------------------------
# CD: the data of a bogus zone, unvalidated, and nothing of it cached as secure.

BOGUS_WITH_DATA = [c for c in dc.CASES["bogus"] if c.cd_rcode]
CD_DATA = {"www.bogus.test": {"10.20.6.6"}}     # changed after signing


@pytest.mark.parametrize("c", dc.params([c._replace(bug=None) for c in BOGUS_WITH_DATA]))
def test_checking_disabled_returns_the_data_of_a_bogus_zone(ternd, simnet, c):
    r = ask(ternd(), c, cd=True)
    assert dns.rcode.to_text(r.rcode()) == c.cd_rcode, r
    assert not r.flags & dns.flags.AD
    want = CD_DATA.get(c.qname) or (simnet.expected(c.data_from or c.qname, c.qtype)
                                     if c.cd_rcode == "NOERROR" else set())
    assert dc.rdata(r, c.qname, c.qtype) == want, r


@pytest.mark.parametrize("c", dc.params(BOGUS_WITH_DATA))
def test_bogus_answer_stays_servfail_after_a_cd_query_and_from_the_cache(ternd, c):
    t = ternd()
    assert ask(t, c, cd=True).rcode() != dns.rcode.SERVFAIL
    for _ in range(2):      # once after the CD query, once more from the cache
        r = ask(t, c)
        assert r.rcode() == dns.rcode.SERVFAIL and not r.flags & dns.flags.AD, r
        assert not dc.rdata(r, c.qname, c.qtype) and dc.edes(r), r


@pytest.mark.parametrize("c", dc.params(BOGUS_WITH_DATA))
def test_bogus_answer_stays_servfail_when_asked_again(ternd, c):
    t = ternd()
    for _ in range(3):
        r = ask(t, c)
        assert r.rcode() == dns.rcode.SERVFAIL and not r.flags & dns.flags.AD, r
        assert not dc.rdata(r, c.qname, c.qtype) and dc.edes(r), r


# ---------------------------------------------------------------------------
# DO: RRSIGs of the right algorithm with the answer, NSEC/NSEC3 with denials.

ALGORITHMS = [("www.signed.test", 13), ("www.rsa.test", 8), ("www.rsasha512.test", 10),
              ("www.ecdsap384.test", 14), ("www.ed25519.test", 15), ("www.ed448.test", 16)]


@pytest.mark.parametrize("name,alg", ALGORITHMS)
def test_do_returns_the_rrsigs_of_each_algorithm(ternd, name, alg):
    t = ternd()
    r = t.query(name, "A", dnssec=True)
    sigs = [rd for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG for rd in rrset]
    assert r.flags & dns.flags.AD and sigs, r
    assert {(s.type_covered, s.algorithm) for s in sigs} == {(dns.rdatatype.A, alg)}
    r = t.query(name, "A")       # cached now; without DO: no RRSIG, no AD
    assert r.answer and not r.flags & dns.flags.AD
    assert not any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in r.answer), r


@pytest.mark.parametrize("name,proof", [("nx.signed.test", "NSEC"), ("nx.rsa.test", "NSEC3"),
                                        ("www.ed448.test MX", "NSEC"),
                                        ("www.ecdsap384.test MX", "NSEC3")])
def test_do_returns_the_denial_proof_with_its_rrsigs(ternd, name, proof):
    qname, _, qtype = name.partition(" ")
    r = ternd().query(qname, qtype or "A", dnssec=True)
    assert r.flags & dns.flags.AD and not r.answer, r
    types = {rrset.rdtype for rrset in r.authority}
    covered = {rd.type_covered for rrset in r.authority if rrset.rdtype == dns.rdatatype.RRSIG
               for rd in rrset}
    p = dns.rdatatype.from_text(proof)
    assert {dns.rdatatype.SOA, p} <= types and {dns.rdatatype.SOA, p} <= covered, r


@pytest.mark.parametrize("zone,proof", [("wild-nsec.test", "NSEC"), ("wild-nsec3.test", "NSEC3")])
@pytest.mark.parametrize("when", [
    "first",
    "cached"])
def test_do_returns_the_proof_of_a_wildcard_expansion(ternd, zone, proof, when):
    # RFC 4035 3.1.3.3, RFC 5155 7.2.6: the record that proves no closer match
    t = ternd()
    for _ in range(1 if when == "first" else 2):
        r = t.query("foo." + zone, "A", dnssec=True)
    assert r.flags & dns.flags.AD, r
    p = dns.rdatatype.from_text(proof)
    assert any(rrset.rdtype == p for rrset in r.authority), r
    assert any(rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == p
               for rrset in r.authority), r


# ---------------------------------------------------------------------------
# The verdict is cached with the data: a hit is secure and costs no upstream query.

CACHED = [dc.case("www.rsasha512.test", "A", "NOERROR", True),
          dc.case("nx.ed448.test", "A", "NXDOMAIN", True),
          dc.case("www.ecdsap384.test", "MX", "NOERROR", True),
          dc.case("nx.rsa.test", "A", "NXDOMAIN", True),
          dc.case("foo.wild-nsec.test", "MX", "NOERROR", True),
          dc.case("foo.wild-nsec3.test", "A", "NOERROR", True, data_from="*.wild-nsec3.test")]


@pytest.mark.parametrize("c", dc.params(CACHED))
def test_cached_secure_answer_has_ad_and_sends_nothing_upstream(ternd, simnet, capture, c):
    # The repeats set AD instead of DO (RFC 6840 5.7): AD back, no RRSIGs needed.
    t = ternd()
    dc.check(simnet, c, ask(t, c))
    assert capture.queries, "the first answer must come from upstream"
    capture.clear()
    for tcp in (False, True, False):
        dc.check(simnet, c, t.query(c.qname, c.qtype, ad=True, tcp=tcp))
    assert capture.queries == [], "a secure cache hit must not ask upstream"


# Negative answers in NSEC and NSEC3 zones, wildcard NODATA included, come with
# their proofs from the cached chain (RFC 8198); a wildcard expansion comes with
# the cached proof that no closer name exists (RFC 4035 3.1.3.3).
@pytest.mark.parametrize("c", dc.params(CACHED))
def test_cached_secure_answer_with_do_sends_nothing_upstream(ternd, simnet, capture, c):
    t = ternd()
    dc.check(simnet, c, ask(t, c))
    capture.clear()
    for _ in range(2):
        r = ask(t, c)
        dc.check(simnet, c, r)
        assert any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in r.answer + r.authority), r
    assert capture.queries == [], "a secure cache hit must not ask upstream"


def test_aggressive_nsec_answers_a_covered_name_from_the_cache(ternd, capture):
    # signed.test's NSEC ns2 -> www covers nx and ny; the apex NSEC covers *.signed.test.
    t = ternd()
    r = t.query("nx.signed.test", "A", dnssec=True)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AD
    capture.clear()
    r = t.query("ny.signed.test", "A", dnssec=True)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AD, r
    assert capture.queries == [], "RFC 8198: the cached NSEC proves ny.signed.test absent"


def test_aggressive_nsec_answers_nodata_and_plain_clients_too(ternd, capture):
    # RFC 8198 5.1: the NSEC at www.signed.test lists its types; other types are NODATA
    t = ternd()
    r = t.query("www.signed.test", "MX", dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.flags & dns.flags.AD
    capture.clear()
    r = t.query("www.signed.test", "SRV", ad=True)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.flags & dns.flags.AD, r
    assert any(rrset.rdtype == dns.rdatatype.SOA for rrset in r.authority), r
    assert capture.queries == [], "the cached NSEC at the name proves the type absent"
    # a name with data under it is not NXDOMAIN: the NSEC must really cover it
    r = t.query("www.signed.test", "A", ad=True)
    assert r.rcode() == dns.rcode.NOERROR and r.answer


def test_aggressive_nsec3_answers_covered_names_from_the_cache(ternd, capture):
    # rsa.test is signed with NSEC3 (no opt-out): once a few NSEC3 records are
    # cached, names whose hashes they cover are NXDOMAIN without asking
    t = ternd()
    for warm in ("nx.rsa.test", "ny.rsa.test", "nz.rsa.test"):
        assert t.query(warm, "A", dnssec=True).rcode() == dns.rcode.NXDOMAIN
    names = ["n%d.rsa.test" % i for i in range(30)]
    from_cache = 0
    for n in names:
        capture.clear()
        r = t.query(n, "A", dnssec=True)
        assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AD, r
        if not [q for q in capture.queries if q.qname == n]:
            from_cache += 1
            assert any(rrset.rdtype == dns.rdatatype.NSEC3 for rrset in r.authority), r
    assert from_cache > 0, "no name was answered from the cached NSEC3 chain"
