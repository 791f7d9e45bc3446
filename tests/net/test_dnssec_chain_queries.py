"""The chain of trust costs no upstream query a validating resolver can do
without (issue 3, Performance): from an empty cache, with many zones resolved at
once, the DS of each child comes from its referral (checked when the parent's
keys arrive, if they came later), so no DS query is sent; a zone proven unsigned
gets no DNSKEY query, and neither does a zone below an unsigned delegation
(host4.net under net.). Unbound sends the same: DNSKEY for the signed zones only."""

import concurrent.futures

import dns.flags
import dns.rcode
import pytest

from conftest import ternd_binary, trust_anchor_args

ZONES = ["zone%03d.test" % i for i in range(1, 61)]


@pytest.fixture(autouse=True)
def trust_anchor(simnet):
    if not trust_anchor_args(ternd_binary(), simnet):
        pytest.skip("ternd --help lists no --trust-anchor flag")


def signed(simnet, zone):
    return bool(simnet.zones[zone + "."].get("signed"))


def test_cold_chain_sends_no_ds_query_and_dnskey_only_for_signed_zones(ternd, simnet, capture):
    t = ternd()
    # one question per zone, 20 at a time: many referrals from test. come in
    # before test.'s keys are validated (a zone's NS names may lie in
    # host4.net. or host5.net., unsigned, under the unsigned net.)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = dict(zip(ZONES, pool.map(
            lambda z: t.query("www." + z, "A", dnssec=True), ZONES)))
    for z, r in answers.items():
        assert r.rcode() == dns.rcode.NOERROR, (z, r)
        assert bool(r.flags & dns.flags.AD) == signed(simnet, z), z
    queries = capture.queries
    ds = sorted({q.qname for q in queries if q.qtype == "DS"})
    assert not ds, "the referrals carried every DS and no-DS proof: %s" % ds
    dnskey = {q.qname.rstrip(".").lower() for q in queries if q.qtype == "DNSKEY"}
    unsigned = sorted(z for z in dnskey
                      if z and not simnet.zones.get(z + ".", {}).get("signed"))
    assert not unsigned, "DNSKEY asked of zones proven unsigned: %s" % unsigned
    # and each signed zone's keys once
    n = [q.qname.rstrip(".").lower() for q in queries if q.qtype == "DNSKEY"]
    assert len(n) == len(set(n)), sorted(n)


def test_a_second_question_in_the_zone_is_answered_as_the_first(ternd, simnet):
    # the verdicts cached by the deferred checks hold for the next resolution
    t = ternd()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda z: t.query("www." + z, "A", dnssec=True), ZONES))
    for z in ZONES[:20]:
        r = t.query("mail." + z, "A", dnssec=True)
        assert r.rcode() == dns.rcode.NOERROR, (z, r)
        assert bool(r.flags & dns.flags.AD) == signed(simnet, z), z
