"""ternd resolves through the simulated internet: plain answers over UDP and
TCP with real clients, negative answers, and the hard cases of iteration."""

import subprocess
import time

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

SAMPLE_ZONES = list(range(1, 301, 7)) + [200, 201, 300]   # glued, glueless-hosted, signed
SERVFAIL_BOUND_S = 5
BLACKHOLE_BOUND_S = 10


def answer_rdata(msg, rdtype, name=None):
    t = dns.rdatatype.from_text(rdtype)
    return {rd.to_text() for rrset in msg.answer if rrset.rdtype == t
            and (name is None or rrset.name.to_text().lower() == name.lower().rstrip(".") + ".")
            for rd in rrset}


def assert_recursive_answer(msg, rcode=dns.rcode.NOERROR):
    assert msg.rcode() == rcode, "rcode %s, expected %s\n%s" % (
        dns.rcode.to_text(msg.rcode()), dns.rcode.to_text(rcode), msg)
    assert msg.flags & dns.flags.QR
    assert msg.flags & dns.flags.RA, "RA must be set"
    assert not msg.flags & dns.flags.AA, "AA must be clear: ternd is not authoritative"
    assert msg.flags & dns.flags.RD


def soa_owner(msg):
    for rrset in msg.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset.name.to_text().lower()
    return None


def test_answers_match_zone_data_for_many_zones(ternd, simnet):
    t = ternd()
    for n in SAMPLE_ZONES:
        z = "zone%03d.test." % n
        for name, rdtype in (("www." + z, "A"), ("www." + z, "AAAA"), (z, "MX"), (z, "TXT"),
                             ("mail." + z, "A"), (z, "A")):
            r = t.query(name, rdtype)
            assert_recursive_answer(r)
            assert answer_rdata(r, rdtype) == simnet.expected(name, rdtype), (name, rdtype)


def test_udp_answer_with_dig(ternd, simnet):
    t = ternd()
    r = t.dig("www.zone001.test", "A")
    assert r.status == "NOERROR", r
    assert {"qr", "rd", "ra"} <= r.flags and "aa" not in r.flags and "tc" not in r.flags, r
    assert r.rdata("A") == simnet.expected("www.zone001.test", "A")
    r = t.dig("zone002.test", "MX")
    assert r.rdata("MX") == simnet.expected("zone002.test", "MX"), r


def test_tcp_answer_with_dig_and_kdig(ternd, simnet):
    t = ternd()
    r = t.dig("www.zone003.test", "AAAA", "+tcp")
    assert r.status == "NOERROR" and "ra" in r.flags, r
    assert r.rdata("AAAA") == simnet.expected("www.zone003.test", "AAAA")
    r = t.dig("zone004.test", "TXT", "+tcp", tool="kdig")
    assert r.status == "NOERROR" and "ra" in r.flags and "aa" not in r.flags, r
    assert r.rdata("TXT") == simnet.expected("zone004.test", "TXT")


def test_tcp_connection_carries_several_queries(ternd, simnet):
    t = ternd()
    r = t.dig("www.zone005.test", "A", "+tcp", "+keepopen", tool="kdig")
    assert r.status == "NOERROR", r
    # kdig sends one query per name on the same connection with +keepopen.
    names = ["www.zone%03d.test" % n for n in (6, 7, 8)]
    t.note(*names)
    cmd = ["kdig", "@%s" % t.addr, "-p", str(t.port), "+tcp", "+keepopen", "+timeout=5",
           "+retry=0"]
    for n in names:
        cmd += ["-q", n, "-t", "A"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=30).stdout
    for n in names:
        for a in simnet.expected(n, "A"):
            assert a in out, (n, out)


def test_nxdomain_has_soa_of_the_zone(ternd):
    t = ternd()
    for name, zone in (("nx.zone010.test", "zone010.test."),
                       ("no-such-zone.test", "test."),
                       ("no-such-tld", "."),
                       ("nx.deep.test", "deep.test.")):
        r = t.query(name, "A")
        assert_recursive_answer(r, dns.rcode.NXDOMAIN)
        assert not r.answer
        assert soa_owner(r) == zone, (name, r)


def test_nxdomain_with_dig(ternd):
    r = ternd().dig("nx.zone011.test", "A")
    assert r.status == "NXDOMAIN", r
    assert any(rr[2] == "SOA" and rr[0] == "zone011.test" for rr in r.authority), r


def test_nodata_has_soa_and_no_answer(ternd):
    t = ternd()
    for name, rdtype, zone in (("www.zone012.test", "MX", "zone012.test."),
                               ("mail.zone012.test", "TXT", "zone012.test."),
                               ("zone250.test", "AAAA", "zone250.test.")):
        r = t.query(name, rdtype)
        assert_recursive_answer(r)
        assert not r.answer, r
        assert soa_owner(r) == zone


def test_empty_non_terminal_is_nodata_not_nxdomain(ternd):
    t = ternd()
    for name in ("e.f.deep.test", "f.deep.test", "b.c.d.e.f.deep.test"):
        r = t.query(name, "A")
        assert_recursive_answer(r)
        assert not r.answer


def test_deep_name_resolves(ternd):
    r = ternd().query("a.b.c.d.e.f.deep.test", "A")
    assert_recursive_answer(r)
    assert answer_rdata(r, "A") == {"10.21.0.1"}


def test_cname_inside_one_zone(ternd):
    r = ternd().query("alias.zone013.test", "A")
    assert_recursive_answer(r)
    assert answer_rdata(r, "CNAME", "alias.zone013.test") == {"www.zone013.test."}
    assert answer_rdata(r, "A", "www.zone013.test") == {"10.1.0.13", "10.2.0.13"}


def test_wildcard_is_expanded_to_the_query_name(ternd):
    r = ternd().query("anything.wild.test", "A")
    assert_recursive_answer(r)
    assert answer_rdata(r, "A", "anything.wild.test") == {"10.23.2.1"}


def test_glueless_delegation(ternd):
    r = ternd().query("www.glueless.test", "A")
    assert_recursive_answer(r)
    assert answer_rdata(r, "A") == {"10.30.0.1"}


def test_two_level_glueless_delegation(ternd):
    r = ternd().query("www.glueless2.test", "A")
    assert_recursive_answer(r)
    assert answer_rdata(r, "A") == {"10.31.0.1"}


def test_zones_hosted_on_out_of_zone_servers(ternd, simnet):
    # zone201..300 are delegated to ns1/ns2.hostN.net. with no glue in test.
    t = ternd()
    for n in (201, 261, 300):
        name = "www.zone%03d.test" % n
        r = t.query(name, "A")
        assert_recursive_answer(r)
        assert answer_rdata(r, "A") == simnet.expected(name, "A")


def test_partly_lame_delegation_answers(ternd):
    t = ternd()
    t0 = time.monotonic()
    for _ in range(3):
        r = t.query("www.lame-partial.test", "A")
        assert_recursive_answer(r)
        assert answer_rdata(r, "A") == {"10.41.0.1"}
    assert time.monotonic() - t0 < SERVFAIL_BOUND_S


def test_all_lame_delegation_is_servfail(ternd):
    t = ternd()
    t0 = time.monotonic()
    r = t.query("www.lame-all.test", "A", timeout=SERVFAIL_BOUND_S + 5)
    assert time.monotonic() - t0 < SERVFAIL_BOUND_S
    assert_recursive_answer(r, dns.rcode.SERVFAIL)


def test_partly_dead_delegation_answers(ternd):
    t = ternd()
    t0 = time.monotonic()
    r = t.query("www.dead-partial.test", "A", timeout=SERVFAIL_BOUND_S + 5)
    assert time.monotonic() - t0 < SERVFAIL_BOUND_S
    assert_recursive_answer(r)
    assert answer_rdata(r, "A") == {"10.41.0.1"}


def test_all_dead_delegation_is_servfail_within_5s(ternd):
    t = ternd()
    t0 = time.monotonic()
    r = t.query("www.dead-all.test", "A", timeout=SERVFAIL_BOUND_S + 5)
    assert time.monotonic() - t0 < SERVFAIL_BOUND_S
    assert_recursive_answer(r, dns.rcode.SERVFAIL)


def test_partly_blackholed_delegation_answers(ternd):
    t = ternd()
    t0 = time.monotonic()
    r = t.query("www.blackhole-partial.test", "A", timeout=BLACKHOLE_BOUND_S + 5)
    assert time.monotonic() - t0 < SERVFAIL_BOUND_S
    assert_recursive_answer(r)
    assert answer_rdata(r, "A") == {"10.41.0.1"}


def test_all_blackholed_delegation_is_servfail_in_bounded_time(ternd):
    t = ternd()
    t0 = time.monotonic()
    r = t.query("www.blackhole-all.test", "A", timeout=BLACKHOLE_BOUND_S + 5)
    assert time.monotonic() - t0 < BLACKHOLE_BOUND_S
    assert_recursive_answer(r, dns.rcode.SERVFAIL)


def test_slow_server_answers(ternd):
    r = ternd().query("www.slow.test", "A")
    assert_recursive_answer(r)
    assert answer_rdata(r, "A") == {"10.97.0.1"}


def test_cname_chain_across_zones_is_followed(ternd):
    r = ternd().query("www.cname-a.test", "A")
    assert_recursive_answer(r)
    chain = {rrset.name.to_text().lower(): rrset[0].target.to_text().lower()
             for rrset in r.answer if rrset.rdtype == dns.rdatatype.CNAME}
    assert chain == {"www.cname-a.test.": "www.cname-b.example.",
                     "www.cname-b.example.": "www.cname-c.net.",
                     "www.cname-c.net.": "www.cname-d.test."}, r
    assert answer_rdata(r, "A", "www.cname-d.test") == {"10.23.0.4"}
    # RFC 1034 3.6.2: the chain in order, starting at the query name.
    owners = [rrset.name.to_text().lower() for rrset in r.answer]
    assert owners[0] == "www.cname-a.test."


def test_cname_chain_with_dig(ternd):
    r = ternd().dig("www.cname-a.test", "AAAA")
    assert r.status == "NOERROR", r
    assert [rr[0] for rr in r.answer if rr[2] == "CNAME"] == [
        "www.cname-a.test", "www.cname-b.example", "www.cname-c.net"], r
    assert r.rdata("AAAA") == {"2001:db8:23::4"}


@pytest.mark.parametrize("name", ["loop.cname-a.test", "a.cname-a.test"])
def test_cname_loop_fails_quickly(ternd, name):
    # Across zones (loop.cname-a.test <-> loop.cname-b.example) and inside one zone.
    t = ternd()
    t0 = time.monotonic()
    r = t.query(name, "A", timeout=SERVFAIL_BOUND_S + 5)
    assert time.monotonic() - t0 < SERVFAIL_BOUND_S
    assert r.flags & dns.flags.RA
    # Either SERVFAIL, or the loop's CNAMEs with no final answer.
    assert r.rcode() == dns.rcode.SERVFAIL or (
        r.rcode() == dns.rcode.NOERROR and not answer_rdata(r, "A")), r
    # And ternd still works afterwards.
    assert t.query("www.zone014.test", "A").rcode() == dns.rcode.NOERROR


def test_cname_to_nxdomain_keeps_the_cname(ternd):
    # RFC 6604: the rcode is that of the last name in the chain.
    r = ternd().query("dangling.cname-a.test", "A")
    assert_recursive_answer(r, dns.rcode.NXDOMAIN)
    assert answer_rdata(r, "CNAME") == {"nx.cname-d.test."}


def test_big_rrset_truncated_over_udp_then_complete_over_tcp(ternd):
    t = ternd()
    r = t.dig("big.test", "A", "+ignore")
    assert r.status == "NOERROR" and "tc" in r.flags, r
    r = t.dig("big.test", "A", "+tcp")
    assert r.status == "NOERROR" and "tc" not in r.flags, r
    assert r.rdata("A") == {"10.22.%d.%d" % (i // 250, i % 250 + 1) for i in range(100)}
    r = t.dig("txt.big.test", "TXT", "+tcp", tool="kdig")
    assert r.status == "NOERROR" and len(r.answer) == 20, r


def test_dig_falls_back_to_tcp_by_itself(ternd):
    r = ternd().dig("big.test", "A")        # dig retries over TCP on TC
    assert r.status == "NOERROR" and len(r.rdata("A")) == 100, r


def test_edns_512_client_gets_tc_for_medium_answer(ternd):
    t = ternd()
    r = t.dig("medium.big.test", "A", "+bufsize=512", "+ignore")
    assert "tc" in r.flags, r
    r = t.query("medium.big.test", "A", payload=512)
    assert r.flags & dns.flags.TC
    # The same answer fits the default 1232 bytes.
    r = t.query("medium.big.test", "A")
    assert not r.flags & dns.flags.TC and len(answer_rdata(r, "A")) == 40


def test_client_without_edns_gets_tc_above_512_bytes(ternd):
    t = ternd()
    r = t.query("medium.big.test", "A", use_edns=False)
    assert r.flags & dns.flags.TC
    r = t.query("small.big.test", "A", use_edns=False)
    assert not r.flags & dns.flags.TC and answer_rdata(r, "A") == {"10.22.20.1"}


def test_many_names_in_a_row(ternd, simnet):
    t = ternd()
    for n in range(100, 130):
        name = "mail.zone%03d.test" % n
        r = t.query(name, "AAAA", tcp=(n % 2 == 0))
        assert_recursive_answer(r)
        assert answer_rdata(r, "AAAA") == simnet.expected(name, "AAAA")
