"""Names tern answers itself: _dns.resolver.arpa SVCB for Discovery of
Designated Resolvers (RFC 9462), the rest of resolver.arpa, and localhost
(RFC 6761) — all without asking anyone."""

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tlsutil import Pki, start_encrypted


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def ask(t, name, rdtype):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, t.addr, port=t.port, timeout=5)


def test_ddr_advertises_the_encrypted_listeners(ternd, pki, capture):
    t = start_encrypted(ternd, pki, "--ddr-name", "dns.example.test", dot=True, doh=True)
    r = ask(t, "_dns.resolver.arpa", "SVCB")
    assert r.rcode() == dns.rcode.NOERROR
    records = sorted(r.answer[0], key=lambda rd: rd.priority)
    assert [rd.priority for rd in records] == [1, 2]
    dot, doh = records
    for rd in records:
        assert rd.target.to_text() == "dns.example.test."
    assert [a.decode() for a in dot.params[1].ids] == ["dot"]        # alpn
    assert dot.params[3].port == t.dot_port
    assert [a.decode() for a in doh.params[1].ids] == ["h2", "http/1.1"]
    assert doh.params[3].port == t.doh_port
    assert doh.params[7].value.decode() == "/dns-query{?dns}"        # dohpath (RFC 9461)
    assert capture.queries == [], "resolver.arpa is answered locally"


def test_without_ddr_name_no_designated_resolver(ternd):
    t = ternd()
    r = ask(t, "_dns.resolver.arpa", "SVCB")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert ask(t, "other.resolver.arpa", "A").rcode() == dns.rcode.NXDOMAIN


def test_localhost_is_loopback(ternd, capture):
    t = ternd()
    r = ask(t, "localhost", "A")
    assert [rd.to_text() for rd in r.answer[0]] == ["127.0.0.1"]
    r = ask(t, "foo.localhost", "AAAA")
    assert [rd.to_text() for rd in r.answer[0]] == ["::1"]
    assert ask(t, "localhost", "MX").answer == []
    assert capture.queries == []
