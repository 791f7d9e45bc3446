"""DNSSEC validation through the simulated chain of trust (root.ds of the
simnet as trust anchor): AD only on secure data, SERVFAIL with an extended
error on bogus data, CD honoured."""

import dns.edns
import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from conftest import ternd_binary, trust_anchor_args

SECURE = ["www.signed.test", "www.rsa.test", "www.ed25519.test", "www.zone001.test",
          "www.zone010.test"]
INSECURE = ["www.insecure.test", "www.zone250.test", "www.glueless.test", "www.deep.test"]
BOGUS = ["www.bogus.test", "www.bad-ds.test", "www.expired.test"]


@pytest.fixture(autouse=True)
def trust_anchor(simnet):
    if not trust_anchor_args(ternd_binary(), simnet):
        pytest.skip("ternd --help lists no --trust-anchor flag: it cannot be told to trust "
                    "the simulated root's key (tests/net/run/root.ds)")


def a_rdata(msg):
    return {rd.to_text() for rrset in msg.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset}


@pytest.mark.parametrize("name", SECURE)
def test_secure_answer_has_ad(ternd, simnet, name):
    r = ternd().query(name, "A", dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR, r
    assert r.flags & dns.flags.AD, "secure data must carry AD"
    assert a_rdata(r) == simnet.expected(name, "A")
    assert any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in r.answer), "DO asks for RRSIGs"


def test_ad_in_query_without_do_gets_ad_without_rrsigs(ternd):
    # RFC 6840 5.7: AD in a query asks for the AD bit without DO.
    r = ternd().query("www.signed.test", "A", ad=True)
    assert r.flags & dns.flags.AD
    assert not any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in r.answer)


@pytest.mark.parametrize("name", INSECURE)
def test_insecure_answer_has_no_ad(ternd, name):
    r = ternd().query(name, "A", dnssec=True)
    assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), r
    assert not r.flags & dns.flags.AD


@pytest.mark.parametrize("name", BOGUS)
def test_bogus_answer_is_servfail_with_extended_error(ternd, name):
    r = ternd().query(name, "A", dnssec=True)
    assert r.rcode() == dns.rcode.SERVFAIL, r
    assert not a_rdata(r)
    codes = [o.otype for o in r.options]
    assert dns.edns.OptionType.EDE in codes, "RFC 8914: say why (%s)" % r.options


@pytest.mark.parametrize("name", BOGUS)
def test_checking_disabled_returns_bogus_data(ternd, name):
    r = ternd().query(name, "A", dnssec=True, cd=True)
    assert r.rcode() == dns.rcode.NOERROR, r
    assert not r.flags & dns.flags.AD
    expected = {"www.bogus.test": {"10.20.6.6"}}.get(name, {"10.20.0.2"})
    assert a_rdata(r) == expected


def test_bogus_without_do_is_servfail_too(ternd):
    r = ternd().query("www.bogus.test", "A")
    assert r.rcode() == dns.rcode.SERVFAIL


@pytest.mark.parametrize("name", ["nx.signed.test", "nx.rsa.test", "no-such-zone.test",
                                  "nx.zone002.test"])
def test_secure_nxdomain_has_ad(ternd, name):
    # NSEC (signed.test, zone002.test) and NSEC3 (rsa.test, test.) denials.
    r = ternd().query(name, "A", dnssec=True)
    assert r.rcode() == dns.rcode.NXDOMAIN, r
    assert r.flags & dns.flags.AD


@pytest.mark.parametrize("name,rdtype", [("www.signed.test", "MX"), ("www.rsa.test", "TXT")])
def test_secure_nodata_has_ad(ternd, name, rdtype):
    r = ternd().query(name, rdtype, dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    assert r.flags & dns.flags.AD


def test_secure_and_bogus_in_one_resolver(ternd):
    # A bogus zone must not poison its secure siblings.
    t = ternd()
    assert t.query("www.bogus.test", "A", dnssec=True).rcode() == dns.rcode.SERVFAIL
    r = t.query("www.signed.test", "A", dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD
