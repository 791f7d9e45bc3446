"""The simulated internet itself, asked directly (no ternd): the servers answer
what the delegations say, the hard cases behave as documented, DNSSEC validates."""

import os
import socket
import subprocess
import time

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

import simnet as simnet_ctl

TIMEOUT_S = 2


def ask(addr, name, rdtype="A", dnssec=False, tcp=False, payload=1232, timeout=TIMEOUT_S):
    q = dns.message.make_query(name, rdtype, want_dnssec=dnssec, payload=payload)
    q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, addr, timeout=timeout)
    return dns.query.udp(q, addr, timeout=timeout)


def rdatas(msg, section="answer", rdtype=None):
    out = set()
    for rrset in getattr(msg, section):
        if rdtype is None or rrset.rdtype == dns.rdatatype.from_text(rdtype):
            out |= {rd.to_text() for rd in rrset}
    return out


def test_root_servers_answer_authoritatively(simnet):
    for addr in simnet.addrs("."):
        r = ask(addr, ".", "SOA")
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA


def test_root_hints_name_the_root_servers(simnet):
    hints = dns.zone.from_file(simnet.root_hints, origin=".", relativize=False, check_origin=False)
    ns = {rd.target.to_text().lower() for rd in hints.get_rdataset(".", "NS")}
    assert ns == {"a.root-servers.net.", "b.root-servers.net."}
    addrs = {hints.get_rdataset(n, "A")[0].address for n in ns}
    assert addrs == set(simnet.addrs("."))


def test_root_refers_test_with_glue(simnet):
    r = ask(simnet.addrs(".")[0], "www.zone001.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA
    assert not r.answer
    assert rdatas(r, "authority", "NS") == {"ns1.nic.test.", "ns2.nic.test."}
    assert rdatas(r, "additional", "A") == set(simnet.addrs("test."))


def test_tld_refers_leaf_with_glue(simnet):
    r = ask(simnet.addrs("test.")[0], "www.zone001.test", "A")
    assert not r.flags & dns.flags.AA
    assert rdatas(r, "authority", "NS") == {"ns1.zone001.test.", "ns2.zone001.test."}
    assert rdatas(r, "additional", "A") == set(simnet.addrs("zone001.test."))


def test_every_served_zone_answers_authoritatively_at_every_delegated_address(simnet):
    for zname, z in simnet.zones.items():
        for addr in z["addrs"]:
            served = zname in simnet.served_at(addr)
            if addr in simnet.info["dead"] or addr in simnet.info["blackhole"]:
                continue
            r = ask(addr, zname, "SOA", payload=1232)
            if served or addr in simnet.info["slow"]:
                assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA, (zname, addr)
            else:
                assert r.rcode() == dns.rcode.REFUSED, (zname, addr)


def test_no_server_serves_a_zone_and_its_ancestor(simnet):
    # Otherwise a resolver asking the ancestor's server would get the answer
    # without following the delegation, and iteration would go untested.
    for gid, g in simnet.groups.items():
        zs = g["zones"]
        for a in zs:
            for b in zs:
                assert a == b or not simnet_ctl.name_is_under(a, b), (gid, a, b)


def test_hosting_server_refuses_the_tld(simnet):
    r = ask(simnet.addrs("zone001.test.")[0], "test.", "SOA")
    assert r.rcode() == dns.rcode.REFUSED


def test_leaf_answers_zone_data(simnet):
    for n in (1, 150, 201, 300):
        zname = "zone%03d.test." % n
        addr = simnet.addrs(zname)[0]
        for name, rdtype in (("www." + zname, "A"), ("www." + zname, "AAAA"),
                             (zname, "MX"), (zname, "TXT")):
            r = ask(addr, name, rdtype)
            assert r.flags & dns.flags.AA
            assert rdatas(r, "answer", rdtype) == simnet.expected(name, rdtype)


def test_nxdomain_and_nodata(simnet):
    addr = simnet.addrs("zone001.test.")[0]
    r = ask(addr, "nx.zone001.test", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert rdatas(r, "authority", "SOA")
    r = ask(addr, "www.zone001.test", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and rdatas(r, "authority", "SOA")


def test_glueless_delegations_have_no_glue(simnet):
    t = simnet.addrs("test.")[0]
    for zname, ns in (("glueless.test", "ns.glue-provider.example."),
                      ("glueless2.test", "ns.glueless-mid.example.")):
        r = ask(t, "www." + zname, "A")
        assert rdatas(r, "authority", "NS") == {ns}
        assert not rdatas(r, "additional", "A")
    # The second level: glueless-mid.example's server is named in net., no glue in example.
    r = ask(simnet.addrs("example.")[0], "ns.glueless-mid.example", "A")
    assert rdatas(r, "authority", "NS") == {"ns.glueless-leaf.net."}
    assert not rdatas(r, "additional", "A")


def test_lame_server_refuses(simnet):
    lame = simnet.addrs("lame-all.test.")
    for addr in lame + [simnet.addrs("lame-partial.test.")[0]]:
        assert ask(addr, "www.lame-partial.test", "A").rcode() == dns.rcode.REFUSED
    r = ask(simnet.addrs("lame-partial.test.")[1], "www.lame-partial.test", "A")
    assert r.flags & dns.flags.AA and rdatas(r) == {"10.41.0.1"}


def test_dead_addresses_do_not_answer(simnet):
    for addr in simnet.addrs("dead-all.test."):
        with pytest.raises((dns.exception.Timeout, ConnectionRefusedError, OSError)):
            ask(addr, "www.dead-all.test", "A", timeout=0.5)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((addr, 53), timeout=TIMEOUT_S).close()


def test_blackhole_accepts_and_never_answers(simnet):
    for addr in simnet.addrs("blackhole-all.test."):
        with pytest.raises(dns.exception.Timeout):
            q = dns.message.make_query("www.blackhole-all.test", "A")
            dns.query.udp(q, addr, timeout=0.5)
        socket.create_connection((addr, 53), timeout=TIMEOUT_S).close()


def test_slow_server_answers_late(simnet):
    addr = simnet.addrs("slow.test.")[0]
    for tcp in (False, True):
        t0 = time.monotonic()
        r = ask(addr, "www.slow.test", "A", tcp=tcp)
        assert time.monotonic() - t0 >= simnet_ctl.SLOW_DELAY_S * 0.9
        assert r.flags & dns.flags.AA and rdatas(r) == {"10.97.0.1"}


def test_cname_chain_crosses_zones_one_hop_per_server(simnet):
    name = "www.cname-a.test."
    for _ in range(3):
        zname = simnet.closest_zone(name)
        r = ask(simnet.addrs(zname)[0], name, "A")
        assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.CNAME, r
        name = r.answer[0][0].target.to_text()
    assert name == "www.cname-d.test."
    r = ask(simnet.addrs("cname-d.test.")[0], name, "A")
    assert rdatas(r) == {"10.23.0.4"}


def test_deep_name_has_empty_non_terminals(simnet):
    addr = simnet.addrs("deep.test.")[0]
    r = ask(addr, "a.b.c.d.e.f.deep.test", "A")
    assert rdatas(r) == {"10.21.0.1"}
    for ent in ("b.c.d.e.f.deep.test", "e.f.deep.test", "f.deep.test"):
        r = ask(addr, ent, "A")
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, ent


def test_big_answer_truncated_over_udp_full_over_tcp(simnet):
    addr = simnet.addrs("big.test.")[0]
    r = ask(addr, "big.test", "A")
    assert r.flags & dns.flags.TC
    r = ask(addr, "big.test", "A", tcp=True)
    assert len(rdatas(r)) == 100
    r = ask(addr, "txt.big.test", "TXT", tcp=True)
    assert len(rdatas(r)) == 20
    r = ask(addr, "medium.big.test", "A")
    assert not r.flags & dns.flags.TC and len(rdatas(r)) == 40
    r = ask(addr, "medium.big.test", "A", payload=512)
    assert r.flags & dns.flags.TC


def test_signed_zones_have_rrsigs(simnet):
    for zname, z in simnet.zones.items():
        if not z["signed"] or not z["served_by"]:
            continue
        r = ask(simnet.addrs(zname)[0], zname, "SOA", dnssec=True)
        types = {rrset.rdtype for rrset in r.answer}
        assert dns.rdatatype.RRSIG in types, zname


def test_kdig_sees_signed_root(simnet):
    r = subprocess.run(["kdig", "+dnssec", "+norec", "@" + simnet.addrs(".")[0], ".", "DNSKEY"],
                       stdout=subprocess.PIPE, text=True, timeout=10)
    assert "RRSIG\tDNSKEY" in r.stdout and "NOERROR" in r.stdout


def fetch_validated(zname, rdtype, addr, keys):
    """Fetch (zname, rdtype) from addr and validate it with @keys {name: DNSKEY rrset}."""
    r = ask(addr, zname, rdtype, dnssec=True, tcp=True)
    name = dns.name.from_text(zname)
    section = r.answer if r.answer else r.authority
    rrset = [s for s in section if s.name == name and s.rdtype == dns.rdatatype.from_text(rdtype)]
    sigs = [s for s in section if s.name == name and s.rdtype == dns.rdatatype.RRSIG]
    assert rrset and sigs, (zname, rdtype, r)
    dns.dnssec.validate(rrset[0], sigs[0], keys)
    return rrset[0]


def dnskey_matching_ds(zname, addr, ds_rrset):
    """The zone's DNSKEY RRset, checked against @ds_rrset and self-signed by that key."""
    r = ask(addr, zname, "DNSKEY", dnssec=True, tcp=True)
    name = dns.name.from_text(zname)
    keys = r.find_rrset(r.answer, name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    sigs = r.find_rrset(r.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    matching = [k for k in keys for ds in ds_rrset
                if dns.dnssec.make_ds(name, k, ds.digest_type) == ds]
    assert matching, "no DNSKEY of %s matches its DS" % zname
    dns.dnssec.validate(keys, sigs, {name: keys})
    return keys


def root_ds(simnet):
    z = dns.zone.from_file(simnet.root_ds, origin=".", relativize=False, check_origin=False)
    return z.get_rdataset(".", "DS")


def test_dnssec_chain_validates_from_root_ds(simnet):
    root = simnet.addrs(".")[0]
    root_keys = dnskey_matching_ds(".", root, root_ds(simnet))
    keys = {dns.name.root: root_keys}
    test_ds = fetch_validated("test.", "DS", root, keys)
    test_keys = dnskey_matching_ds("test.", simnet.addrs("test.")[0], test_ds)
    keys[dns.name.from_text("test.")] = test_keys
    for zname in ("signed.test.", "rsa.test.", "ed25519.test.", "zone001.test.", "zone010.test."):
        ds = fetch_validated(zname, "DS", simnet.addrs("test.")[0], keys)
        zkeys = dnskey_matching_ds(zname, simnet.addrs(zname)[0], ds)
        www = "www." + zname
        rrset = fetch_validated(www, "A", simnet.addrs(zname)[0], {dns.name.from_text(zname): zkeys})
        assert {rd.to_text() for rd in rrset} == simnet.expected(www, "A")


def test_bogus_zones_fail_validation(simnet):
    root = simnet.addrs(".")[0]
    keys = {dns.name.root: dnskey_matching_ds(".", root, root_ds(simnet))}
    test_keys = dnskey_matching_ds("test.", simnet.addrs("test.")[0],
                                   fetch_validated("test.", "DS", root, keys))
    keys[dns.name.from_text("test.")] = test_keys
    tld = simnet.addrs("test.")[0]

    # bogus.test: the keys are right, www's A was changed after signing.
    ds = fetch_validated("bogus.test.", "DS", tld, keys)
    zkeys = dnskey_matching_ds("bogus.test.", simnet.addrs("bogus.test.")[0], ds)
    with pytest.raises(dns.dnssec.ValidationFailure):
        fetch_validated("www.bogus.test.", "A", simnet.addrs("bogus.test.")[0],
                        {dns.name.from_text("bogus.test."): zkeys})
    # bad-ds.test: the parent's DS matches no key of the zone.
    ds = fetch_validated("bad-ds.test.", "DS", tld, keys)
    with pytest.raises(AssertionError, match="no DNSKEY"):
        dnskey_matching_ds("bad-ds.test.", simnet.addrs("bad-ds.test.")[0], ds)
    # expired.test: every signature expired ten days ago.
    ds = fetch_validated("expired.test.", "DS", tld, keys)
    with pytest.raises(dns.dnssec.ValidationFailure):
        dnskey_matching_ds("expired.test.", simnet.addrs("expired.test.")[0], ds)


def test_insecure_delegations_are_proven_by_nsec3(simnet):
    r = ask(simnet.addrs("test.")[0], "www.insecure.test", "A", dnssec=True)
    assert not rdatas(r, "authority", "DS")
    assert rdatas(r, "authority", "NSEC3")


def test_simnet_status_and_restart_are_idempotent(simnet):
    assert simnet_ctl.status(simnet.dir)
    info = simnet_ctl.start(simnet.dir, quiet=True)
    assert info["prefix"] == simnet.prefix
    r = subprocess.run([os.path.join(os.path.dirname(__file__), "simnet"), "status", simnet.dir],
                       stdout=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "running"
