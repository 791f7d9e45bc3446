"""tests/net/simnet: a simulated internet on loopback for tern's integration tests.

One knotd per server group, each on its own 127.53.G.N addresses, serving only the
zones that the delegations say that group serves (a server that also served an
ancestor of one of its zones would short-circuit iteration). A small helper process plays
the servers no real one imitates: a black hole (reads, never answers) and a slow
proxy. The zones, keys and signatures are generated into a cache keyed on this
file's hash and the address prefix, so a repeat start only writes configs and
starts processes. The address plan and the special names are in README.md beside
this file; tests read DIR/simnet.json rather than repeating them.

Usage: simnet start [DIR] | simnet stop [DIR] | simnet status [DIR]
(DIR defaults to tests/net/run/; SIMNET_PREFIX overrides the 127.53 prefix.)
"""

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "run")
DEFAULT_PREFIX = "127.53"

N_ZONES = 300             # zone001.test .. zone300.test
N_HOSTS = 5               # hosting groups host1 .. host5, 60 zones each
N_SIGNED_ZONES = 10       # zone001 .. zone010 are signed (ECDSA)
GLUED_ZONES_MAX = 200     # zone001..zone200: in-zone NS names with glue; the rest: ns1.hostG.net
SLOW_DELAY_S = 0.25       # the slow proxy's added delay per query (below resolvers' first timeout)
SIG_INCEPTION_S = 86400           # signatures valid from one day before generation...
SIG_VALIDITY_S = 30 * 86400       # ...to 30 days after it
REGENERATE_AFTER_S = 7 * 86400    # so a cache older than a week is regenerated
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 5


def prefix_from_env():
    prefix = os.environ.get("SIMNET_PREFIX", DEFAULT_PREFIX)
    if not re.fullmatch(r"127\.\d{1,3}", prefix) or int(prefix.split(".")[1]) > 255:
        raise SystemExit("SIMNET_PREFIX must look like 127.N (got %r)" % prefix)
    return prefix


# ---------------------------------------------------------------------------
# The model: groups of servers, zones, their delegations.

class Zone:
    def __init__(self, name, ns, served_by, signed=None, nsec3=False, neg_ttl=300):
        self.name = name                # absolute, lowercase, "." for the root
        self.ns = ns                    # NS target names
        self.served_by = served_by      # group ids whose knotd loads this zone
        self.signed = signed            # None or a DNSSEC algorithm name
        self.nsec3 = nsec3
        self.neg_ttl = neg_ttl
        self.records = []               # (owner, ttl, type, rdata text)
        self.tamper = None              # (owner, type, old rdata, new rdata) after signing
        self.bad_ds = False             # the parent publishes a DS of a key not in the zone
        self.expired = False            # signatures expired before generation
        self.future = False             # signatures valid only from 10 days after generation
        self.ds = []                    # DS lines for the parent, set by generate()
        # More broken and unusual shapes (see "DNSSEC cases" in README.md):
        self.rsa_bits = (2048, 2048)    # RSA key sizes of the KSK and the ZSK (keygen time)
        self.nsec3_iterations = 0       # NSEC3 iterations (RFC 9276 says 0; >150 is insecure)
        self.nsec3_optout = False       # NSEC3 opt-out flag on every NSEC3 (ldns-signzone -p)
        self.ds_digest = None           # "corrupt": right tag and algorithm, wrong digest;
        #                                 an int: that (unknown) digest type
        self.unsigning_ksk = False      # the DS names a published KSK that signs nothing
        self.private_alg = None         # DNSKEY and RRSIG algorithm rewritten to this after signing
        self.keytrap = 0                # this many extra DNSKEYs sharing the ZSK's key tag
        self.edits = []                 # (function name, args): edits of the signed zone, in order

    def add(self, owner, rtype, rdata, ttl=3600):
        self.records.append((owner, ttl, rtype, rdata))


def name_is_under(name, zone):
    """True when @name is @zone or below it (absolute names, lowercase)."""
    return zone == "." or name == zone or name.endswith("." + zone)


def labels(name):
    return 0 if name == "." else name.rstrip(".").count(".") + 1


def build_model(prefix):
    p = prefix
    groups = {}       # id -> {"addrs": [...], "zones": [...], "role": str}
    hosts = {}        # nameserver host name -> address
    zones = {}

    def group(gid, addrs, role):
        groups[gid] = {"addrs": addrs, "zones": [], "role": role}

    def host(name, addr):
        assert hosts.get(name, addr) == addr, name
        hosts[name] = addr

    def zone(name, ns, served_by, **kw):
        z = Zone(name, [n for n, _ in ns], served_by, **kw)
        for n, a in ns:
            host(n, a)
        for g in served_by:
            groups[g]["zones"].append(name)
        zones[name] = z
        return z

    group("root", ["%s.0.1" % p, "%s.0.2" % p], "root servers")
    group("tld-test", ["%s.1.1" % p, "%s.1.2" % p], "test.")
    group("tld-net", ["%s.2.1" % p, "%s.2.2" % p], "net. and example.")
    for g in range(1, N_HOSTS + 1):
        group("host%d" % g, ["%s.%d.1" % (p, 9 + g), "%s.%d.2" % (p, 9 + g)],
              "hosting: zoneNNN.test, host%d.net" % g)
    group("signed", ["%s.20.1" % p, "%s.20.2" % p], "signed zones, bogus zones")
    group("dnssec", ["%s.26.1" % p, "%s.26.2" % p], "DNSSEC cases: algorithms, broken chains, proofs")
    group("deep", ["%s.21.1" % p], "deep.test (QNAME minimisation)")
    group("big", ["%s.22.1" % p], "big.test (TC and TCP fallback)")
    group("misc1", ["%s.23.1" % p], "CNAME chain and loop, TTLs, wildcard")
    group("misc2", ["%s.24.1" % p], "CNAME chain and loop")
    group("misc3", ["%s.25.1" % p], "CNAME chain")
    group("glueless", ["%s.30.1" % p], "glueless delegation")
    group("glueless2", ["%s.31.1" % p], "two-level glueless delegation")
    group("lame", ["%s.40.1" % p, "%s.40.2" % p], "lame: serves no zone, answers REFUSED")
    group("working", ["%s.41.1" % p], "the working server of partly lame/dead zones")
    group("slow-backend", ["%s.97.101" % p], "behind the slow proxy at %s.97.1" % p)
    dead = ["%s.99.1" % p, "%s.99.2" % p]            # nothing listens: ICMP port unreachable
    blackhole = ["%s.98.1" % p, "%s.98.2" % p]       # the helper reads and never answers
    slow = {"%s.97.1" % p: "%s.97.101" % p}          # the helper delays, then forwards

    def ns2(zname, addrs):
        return [("ns%d.%s" % (i + 1, zname), a) for i, a in enumerate(addrs)]

    # The root and the TLDs.
    root = zone(".", [("a.root-servers.net.", "%s.0.1" % p), ("b.root-servers.net.", "%s.0.2" % p)],
                ["root"], signed="ECDSAP256SHA256", neg_ttl=86400)
    test = zone("test.", [("ns1.nic.test.", "%s.1.1" % p), ("ns2.nic.test.", "%s.1.2" % p)],
                ["tld-test"], signed="ECDSAP256SHA256", nsec3=True, neg_ttl=900)
    tld_ns = [("a.nic.net.", "%s.2.1" % p), ("b.nic.net.", "%s.2.2" % p)]
    zone("net.", tld_ns, ["tld-net"], neg_ttl=900)
    zone("example.", tld_ns, ["tld-net"], neg_ttl=900)
    root.add(".", "TXT", '"tern simulated root"')
    test.add("test.", "TXT", '"tern simulated test."')

    # Hosting: zone001..zone300.test over host1..host5.
    per_host = N_ZONES // N_HOSTS
    for g in range(1, N_HOSTS + 1):
        addrs = groups["host%d" % g]["addrs"]
        zone("host%d.net." % g, ns2("host%d.net." % g, addrs), ["host%d" % g])
    for n in range(1, N_ZONES + 1):
        g = (n - 1) // per_host + 1
        addrs = groups["host%d" % g]["addrs"]
        zname = "zone%03d.test." % n
        if n <= GLUED_ZONES_MAX:
            ns = ns2(zname, addrs)
        else:
            ns = [("ns%d.host%d.net." % (i + 1, g), a) for i, a in enumerate(addrs)]
        z = zone(zname, ns, ["host%d" % g],
                 signed="ECDSAP256SHA256" if n <= N_SIGNED_ZONES else None)
        for owner, rtype, rdata in zone_data(n):
            z.add(owner + zname if owner else zname, rtype, rdata)

    # DNSSEC: one zone per algorithm, and three ways to be bogus.
    sg = groups["signed"]["addrs"]
    for zname, alg, nsec3 in [("signed.test.", "ECDSAP256SHA256", False),
                              ("rsa.test.", "RSASHA256", True),
                              ("ed25519.test.", "ED25519", False),
                              ("bogus.test.", "ECDSAP256SHA256", False),
                              ("bad-ds.test.", "ECDSAP256SHA256", False),
                              ("expired.test.", "ECDSAP256SHA256", False)]:
        z = zone(zname, ns2(zname, sg), ["signed"], signed=alg, nsec3=nsec3)
        z.add(zname, "A", "10.20.0.1")
        z.add("www." + zname, "A", "10.20.0.2")
        z.add("www." + zname, "AAAA", "2001:db8:20::2")
        z.add(zname, "TXT", '"signed with %s"' % alg)
        z.add(zname, "MX", "10 mail." + zname)
        z.add("mail." + zname, "A", "10.20.0.3")
    zones["bogus.test."].tamper = ("www.bogus.test.", "A", "10.20.0.2", "10.20.6.6")
    zones["bad-ds.test."].bad_ds = True
    zones["expired.test."].expired = True
    z = zone("insecure.test.", ns2("insecure.test.", sg), ["signed"])
    z.add("www.insecure.test.", "A", "10.20.1.2")

    # DNSSEC cases (README.md, "DNSSEC cases"): one zone each, data 10.26.N.x.
    dg = groups["dnssec"]["addrs"]

    def dnssec_zone(n, zname, alg, nsec3=False, **kw):
        z = zone(zname, ns2(zname, dg), ["dnssec"], signed=alg, nsec3=nsec3)
        for k, v in kw.items():
            assert hasattr(z, k), k
            setattr(z, k, v)
        z.add(zname, "A", "10.26.%d.1" % n)
        z.add(zname, "TXT", '"%s"' % zname)
        z.add(zname, "MX", "10 mail." + zname)
        z.add("www." + zname, "A", "10.26.%d.2" % n)
        z.add("www." + zname, "AAAA", "2001:db8:26:%x::2" % n)
        z.add("mail." + zname, "A", "10.26.%d.3" % n)
        return z

    # Every algorithm tern validates (8, 13 and 15 are signed.test, rsa.test, ed25519.test).
    fast_rsa = {"rsa_bits": (1024, 1024)}          # RSA key generation is the slow part
    dnssec_zone(1, "rsasha512.test.", "RSASHA512", **fast_rsa)
    dnssec_zone(2, "ecdsap384.test.", "ECDSAP384SHA384", nsec3=True)
    dnssec_zone(3, "ed448.test.", "ED448")
    # Algorithms it does not: SHA-1 ones (RFC 9905) and a private one (253, PRIVATEDNS).
    dnssec_zone(4, "rsasha1.test.", "RSASHA1", **fast_rsa)
    dnssec_zone(5, "rsasha1-nsec3.test.", "RSASHA1-NSEC3-SHA1", nsec3=True, **fast_rsa)
    dnssec_zone(6, "private-alg.test.", "ECDSAP256SHA256", private_alg=253)
    dnssec_zone(7, "ds-digest-unknown.test.", "ECDSAP256SHA256", ds_digest=200)
    # Broken chains and signatures.
    dnssec_zone(8, "future.test.", "ECDSAP256SHA256", future=True)
    dnssec_zone(9, "ds-mismatch.test.", "ECDSAP256SHA256", ds_digest="corrupt")
    dnssec_zone(10, "nokey.test.", "ECDSAP256SHA256", edits=[("drop", "nokey.test.", "DNSKEY")])
    dnssec_zone(11, "wrong-key.test.", "ECDSAP256SHA256", unsigning_ksk=True)
    dnssec_zone(12, "nosig.test.", "ECDSAP256SHA256",
                edits=[("drop_sigs", "www.nosig.test.", "A")])
    # Denial proofs with holes: a re-signed NSEC chain that skips nx..., a missing NSEC.
    dnssec_zone(13, "nsec-gap.test.", "ECDSAP256SHA256",
                edits=[("nsec_next", "ns2.nsec-gap.test.", "nw.nsec-gap.test.")])
    dnssec_zone(14, "nsec-missing.test.", "ECDSAP256SHA256",
                edits=[("drop", "ns2.nsec-missing.test.", "NSEC")])
    # NSEC3 opt-out over an unsigned delegation, and too many iterations.
    dnssec_zone(15, "optout.test.", "ECDSAP256SHA256", nsec3=True, nsec3_optout=True,
                edits=[("nsec3_unlink", "sub.optout.test.")])
    z = zone("sub.optout.test.", ns2("sub.optout.test.", sg), ["signed"])
    z.add("www.sub.optout.test.", "A", "10.26.15.9")
    dnssec_zone(16, "iter500.test.", "ECDSAP256SHA256", nsec3=True, nsec3_iterations=500)
    # Wildcards: answers and NODATA with their proofs, and without.
    for n, zname, nsec3, edits in [
            (17, "wild-nsec.test.", False, []),
            (18, "wild-nsec3.test.", True, []),
            (19, "wild-noproof.test.", False, [("drop", "*.wild-noproof.test.", "NSEC")])]:
        z = dnssec_zone(n, zname, "ECDSAP256SHA256", nsec3=nsec3, edits=edits)
        z.add("*." + zname, "A", "10.26.%d.9" % n)
        z.add("*." + zname, "TXT", '"wildcard"')
        z.add("real." + zname, "A", "10.26.%d.8" % n)
    # KeyTrap (CVE-2023-50387): 40 more DNSKEYs on the ZSK's key tag (same RSA modulus,
    # 2040-bit exponents: every check is a real, slow one), and on www and k1..k8 40
    # RRSIGs with that tag and random signatures. Naively 40 x 41 checks of ~4 ms per RRset.
    z = dnssec_zone(20, "keytrap.test.", "RSASHA256", keytrap=40, rsa_bits=(1024, 2048),
                    edits=[("garbage_sigs", o + "keytrap.test.", "A", 40)
                           for o in ["www."] + ["k%d." % i for i in range(1, 9)]])
    for i in range(1, 9):
        z.add("k%d.keytrap.test." % i, "A", "10.26.20.%d" % (10 + i))

    # Deep names under one zone cut, with empty non-terminals between.
    z = zone("deep.test.", ns2("deep.test.", groups["deep"]["addrs"]), ["deep"])
    z.add("a.b.c.d.e.f.deep.test.", "A", "10.21.0.1")
    z.add("a.b.c.d.e.f.deep.test.", "TXT", '"deep"')
    z.add("x.f.deep.test.", "A", "10.21.0.2")

    # Answers too big for UDP: 100 A (about 1.6 kB), 20 TXT of 200 bytes, 40 A (about 700 B).
    z = zone("big.test.", ns2("big.test.", groups["big"]["addrs"]), ["big"])
    for i in range(100):
        z.add("big.test.", "A", "10.22.%d.%d" % (i // 250, i % 250 + 1))
    for i in range(20):
        z.add("txt.big.test.", "TXT", '"%02d %s"' % (i, "x" * 196))
    for i in range(40):
        z.add("medium.big.test.", "A", "10.22.10.%d" % (i + 1))
    z.add("small.big.test.", "A", "10.22.20.1")

    # A CNAME chain through four zones on three servers, and loops.
    m1, m2, m3 = (groups[g]["addrs"] for g in ("misc1", "misc2", "misc3"))
    za = zone("cname-a.test.", ns2("cname-a.test.", m1), ["misc1"])
    zb = zone("cname-b.example.", ns2("cname-b.example.", m2), ["misc2"])
    zc = zone("cname-c.net.", ns2("cname-c.net.", m3), ["misc3"])
    zd = zone("cname-d.test.", ns2("cname-d.test.", m1), ["misc1"])
    za.add("www.cname-a.test.", "CNAME", "www.cname-b.example.")
    zb.add("www.cname-b.example.", "CNAME", "www.cname-c.net.")
    zc.add("www.cname-c.net.", "CNAME", "www.cname-d.test.")
    zd.add("www.cname-d.test.", "A", "10.23.0.4")
    zd.add("www.cname-d.test.", "AAAA", "2001:db8:23::4")
    za.add("loop.cname-a.test.", "CNAME", "loop.cname-b.example.")
    zb.add("loop.cname-b.example.", "CNAME", "loop.cname-a.test.")
    za.add("a.cname-a.test.", "CNAME", "b.cname-a.test.")
    za.add("b.cname-a.test.", "CNAME", "a.cname-a.test.")
    za.add("dangling.cname-a.test.", "CNAME", "nx.cname-d.test.")

    # TTLs and a wildcard.
    z = zone("ttl.test.", ns2("ttl.test.", m1), ["misc1"], neg_ttl=2)
    z.add("ttl1.ttl.test.", "A", "10.23.1.1", ttl=1)
    z.add("ttl5.ttl.test.", "A", "10.23.1.5", ttl=5)
    z.add("ttl3600.ttl.test.", "A", "10.23.1.36", ttl=3600)
    z.add("ttl86400.ttl.test.", "A", "10.23.1.86", ttl=86400)
    z = zone("wild.test.", ns2("wild.test.", m1), ["misc1"])
    z.add("*.wild.test.", "A", "10.23.2.1")
    z.add("*.wild.test.", "TXT", '"wildcard"')
    z.add("real.wild.test.", "A", "10.23.2.2")

    # Glueless: the NS name is in another TLD, nothing in test. gives its address.
    gl = groups["glueless"]["addrs"]
    z = zone("glueless.test.", [("ns.glue-provider.example.", gl[0])], ["glueless"])
    z.add("www.glueless.test.", "A", "10.30.0.1")
    zone("glue-provider.example.", [("ns.glue-provider.example.", gl[0])], ["glueless"])
    # Two levels: the NS name's own zone is glueless too.
    gl2 = groups["glueless2"]["addrs"]
    z = zone("glueless2.test.", [("ns.glueless-mid.example.", gl2[0])], ["glueless2"])
    z.add("www.glueless2.test.", "A", "10.31.0.1")
    zone("glueless-mid.example.", [("ns.glueless-leaf.net.", gl2[0])], ["glueless2"])
    zone("glueless-leaf.net.", [("ns.glueless-leaf.net.", gl2[0])], ["glueless2"])

    # Lame, dead, black-holed and slow servers.
    lame, ok = groups["lame"]["addrs"], groups["working"]["addrs"]
    for zname, addrs, served in [
            ("lame-partial.test.", [lame[0], ok[0]], ["working"]),
            ("lame-all.test.", lame, []),
            ("dead-partial.test.", [dead[0], ok[0]], ["working"]),
            ("dead-all.test.", dead, []),
            ("blackhole-partial.test.", [blackhole[0], ok[0]], ["working"]),
            ("blackhole-all.test.", blackhole, [])]:
        z = zone(zname, ns2(zname, addrs), served)
        z.add("www." + zname, "A", "10.41.0.1")
    z = zone("slow.test.", ns2("slow.test.", list(slow)), ["slow-backend"])
    z.add("www.slow.test.", "A", "10.97.0.1")

    # Every nameserver's address goes into its closest enclosing zone.
    for hname, addr in sorted(hosts.items()):
        zones[closest_zone(zones, hname)].add(hname, "A", addr)

    # Exempt from "serves only what it is delegated": the slow proxy's backend.
    for gid, g in groups.items():
        for zname in g["zones"]:
            ns_addrs = {hosts[n] for n in zones[zname].ns}
            if gid != "slow-backend":
                assert set(g["addrs"]) <= ns_addrs, (gid, zname)
    children = {}
    for z in sorted(zones.values(), key=lambda z: z.name):
        if z.name != ".":
            children.setdefault(parent_zone(zones, z.name), []).append(z)
    return {"prefix": prefix, "groups": groups, "zones": zones, "hosts": hosts, "children": children,
            "dead": dead, "blackhole": blackhole, "slow": slow}


def zone_data(n):
    """The records of zoneNNN.test: (relative owner or "", type, rdata)."""
    hi, lo = n // 256, n % 256
    return [
        ("", "A", "10.0.%d.%d" % (hi, lo)),
        ("", "MX", "10 mail.zone%03d.test." % n),
        ("", "MX", "20 mx2.zone%03d.test." % n),
        ("", "TXT", '"zone %03d"' % n),
        ("", "TXT", '"v=sim1 tern"'),
        ("www.", "A", "10.1.%d.%d" % (hi, lo)),
        ("www.", "A", "10.2.%d.%d" % (hi, lo)),
        ("www.", "AAAA", "2001:db8:1::%x" % n),
        ("www.", "AAAA", "2001:db8:2::%x" % n),
        ("mail.", "A", "10.3.%d.%d" % (hi, lo)),
        ("mail.", "AAAA", "2001:db8:3::%x" % n),
        ("mx2.", "A", "10.4.%d.%d" % (hi, lo)),
        ("alias.", "CNAME", "www.zone%03d.test." % n),
        ("txt.", "TXT", '"text record of zone %03d"' % n),
    ]


def closest_zone(zones, name):
    """The closest enclosing zone of @name among @zones (a dict or set of names)."""
    while name not in zones:
        name = name.split(".", 1)[1] or "."
    return name


def parent_zone(zones, zname):
    return closest_zone(zones, zname.split(".", 1)[1] or ".")


# ---------------------------------------------------------------------------
# Generation: zone files, keys, signatures.

def zone_file_name(zname):
    return "root.zone" if zname == "." else zname.rstrip(".") + ".zone"


def zone_text(model, z):
    zones, hosts = model["zones"], model["hosts"]
    lines = ["$TTL 3600"]
    apex_ns = z.ns[0]
    lines.append("%s 3600 IN SOA %s hostmaster.%s 1 7200 3600 1209600 %d" % (
        z.name, apex_ns, z.name if z.name != "." else "", z.neg_ttl))
    for n in z.ns:
        lines.append("%s 3600 IN NS %s" % (z.name, n))
    for owner, ttl, rtype, rdata in z.records:
        lines.append("%s %d IN %s %s" % (owner, ttl, rtype, rdata))
    # Delegations to children, with glue for NS names below the cut.
    glue = set()
    children = model["children"].get(z.name, [])
    for c in children:
        for n in c.ns:
            lines.append("%s 3600 IN NS %s" % (c.name, n))
        for ds in c.ds:
            lines.append(ds)
    # Glue: every NS target (apex or delegation) in our bailiwick whose
    # authoritative home is another zone (below one of our cuts).
    for c in [z] + children:
        for n in c.ns:
            if name_is_under(n, z.name) and closest_zone(zones, n) != z.name:
                glue.add(n)
    for n in sorted(glue):
        lines.append("%s 3600 IN A %s" % (n, hosts[n]))
    return "\n".join(lines) + "\n"


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r.stdout


def keygen(keydir, zname, alg, ksk, rsa_bits=2048):
    cmd = ["ldns-keygen", "-a", alg, "-r", "/dev/urandom"]
    if alg.startswith("RSA"):
        cmd += ["-b", str(rsa_bits)]
    if ksk:
        cmd.append("-k")
    base = run(cmd + [zname], cwd=keydir).strip()
    with open(os.path.join(keydir, base + ".key")) as f:
        text = f.read()
    return os.path.join(keydir, base), text


def dnskey_of(dnskey_text):
    """The DNSKEY rdata in @dnskey_text (an ldns-keygen .key file)."""
    rr = [l for l in dnskey_text.splitlines() if "DNSKEY" in l and not l.startswith(";")][0]
    rr = rr.split(";")[0].split()
    i = rr.index("DNSKEY")
    return dns.rdata.from_text("IN", "DNSKEY", " ".join(rr[i + 1:]))


def ds_of(zname, dnskey, digest=None):
    """DS (SHA-256) lines of DNSKEY rdata @dnskey; @digest "corrupt" flips the digest's
    last bit, an int gives that digest type (with a SHA-256-sized digest)."""
    ds = dns.dnssec.make_ds(dns.name.from_text(zname), dnskey, "SHA256")
    if digest == "corrupt":
        ds = ds.replace(digest=ds.digest[:-1] + bytes([ds.digest[-1] ^ 1]))
    elif digest is not None:
        ds = ds.replace(digest_type=digest)
    return ["%s 3600 IN DS %s" % (zname, ds.to_text())]


def private_dnskey(dnskey, alg):
    """@dnskey relabelled as private algorithm @alg: RFC 4034 A.1.1 wants the key
    to start with the name of the algorithm."""
    assert alg in (253, 254)
    ident = dns.name.from_text("ecdsa.tern.invalid.").to_wire()
    return dnskey.replace(algorithm=alg, key=ident + dnskey.key)


def keytrap_dnskeys(zname, zsk, n):
    """@n DNSKEYs with the key tag of RSA DNSKEY @zsk: its modulus under 2040-bit odd
    exponents, two bytes of each chosen to land on the tag. Each is a usable RSA key
    whose checks cost ~4 ms; none of them signs anything."""
    rng = random.Random(zname)
    tag = dns.dnssec.key_id(zsk)
    key = zsk.key
    elen = key[0] if key[0] else int.from_bytes(key[1:3], "big")
    modulus = key[1 + elen:] if key[0] else key[3 + elen:]
    out = []
    while len(out) < n:
        exp = bytearray(rng.getrandbits(8) for _ in range(255))
        exp[0] |= 0x40
        exp[-1] |= 1
        # RDATA: flags(2) protocol(1) algorithm(1) explen(1) exp: exp[1], exp[2] sit at
        # RDATA offsets 6 and 7, the high and low byte of one 16-bit word of the key
        # tag's sum (RFC 4034 appendix B), so that word picks the tag.
        exp[1] = exp[2] = 0
        k = zsk.replace(flags=257, key=bytes([255]) + bytes(exp) + modulus)
        wire = k.to_digestable()
        rest = sum(wire[0::2]) * 256 + sum(wire[1::2])
        w0 = (tag - rest - (rest >> 16)) & 0xffff
        for w in [(w0 + d) & 0xffff for d in range(-3, 4)]:
            ac = rest + w
            if (ac + ((ac >> 16) & 0xffff)) & 0xffff == tag:
                break
        else:
            continue
        exp[1], exp[2] = w >> 8, w & 0xff
        k = zsk.replace(flags=257, key=bytes([255]) + bytes(exp) + modulus)
        assert dns.dnssec.key_id(k) == tag
        if k != zsk and k not in out:
            out.append(k)
    return out


def sign(gen, z, keys, now):
    src = os.path.join(gen, "unsigned", zone_file_name(z.name))
    out = os.path.join(gen, "zones", zone_file_name(z.name))
    if z.expired:
        inception, expiration = now - 40 * 86400, now - 10 * 86400
    elif z.future:
        inception, expiration = now + 10 * 86400, now + 40 * 86400
    else:
        inception, expiration = now - SIG_INCEPTION_S, now + SIG_VALIDITY_S
    cmd = ["ldns-signzone", "-o", z.name, "-i", str(inception), "-e", str(expiration), "-f", out]
    if z.nsec3:
        cmd += ["-n", "-t", str(z.nsec3_iterations)]
        if z.nsec3_optout:
            cmd.append("-p")
    run(cmd + [src] + keys)
    if z.tamper:
        owner, rtype, old, new = z.tamper
        with open(out) as f:
            text = f.read()
        pat = re.compile(r"^(%s\s+\d+\s+IN\s+%s\s+)%s$" % (re.escape(owner), rtype, re.escape(old)), re.M)
        text, n = pat.subn(r"\g<1>" + new, text)
        assert n == 1, "tamper %s: %d matches" % (owner, n)
        with open(out, "w") as f:
            f.write(text)
    if z.edits or z.private_alg:
        ed = ZoneEditor(out, z.name, keys, inception, expiration)
        for what, *args in z.edits:
            getattr(ed, what)(*args)
        if z.private_alg:
            ed.relabel_algorithm(z.private_alg)
        ed.save()


class ZoneEditor:
    """Edits of a signed zone file that no signer makes: records dropped, an NSEC
    chain bent and re-signed, keys added, garbage signatures. Re-signing uses
    @keys, the ldns key file base names [KSK, ZSK] (ECDSA P-256 or RSA)."""

    def __init__(self, path, origin, keys, inception, expiration):
        self.path, self.keys = path, keys
        self.inception, self.expiration = inception, expiration
        self.origin = dns.name.from_text(origin)
        self.zone = dns.zone.from_file(path, origin=self.origin, relativize=False)

    def node(self, owner):
        return self.zone.find_node(dns.name.from_text(owner))

    def drop(self, owner, rdtype):
        """Remove the RRset (@owner, @rdtype) and its signatures."""
        t = dns.rdatatype.from_text(rdtype)
        node = self.node(owner)
        assert node.get_rdataset(dns.rdataclass.IN, t), (owner, rdtype)
        node.delete_rdataset(dns.rdataclass.IN, t)
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t)

    def drop_sigs(self, owner, rdtype):
        """Remove the RRSIGs of (@owner, @rdtype), keeping the RRset."""
        t = dns.rdatatype.from_text(rdtype)
        node = self.node(owner)
        assert node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t), (owner, rdtype)
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t)

    def key(self, ksk):
        """(private key, DNSKEY rdata) of the KSK or the ZSK, from ldns's files."""
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        base = self.keys[0 if ksk else -1]
        with open(base + ".private") as f:
            fields = {k: v.strip() for k, v in (l.split(":", 1) for l in f if ":" in l)}
        num = {k: int.from_bytes(base64.b64decode(v), "big") for k, v in fields.items()
               if k not in ("Private-key-format", "Algorithm", "Created", "Publish", "Activate")}
        alg = int(fields["Algorithm"].split()[0])
        if alg == 13:
            priv = ec.derive_private_key(num["PrivateKey"], ec.SECP256R1())
        elif alg in (5, 7, 8, 10):
            pub = rsa.RSAPublicNumbers(num["PublicExponent"], num["Modulus"])
            priv = rsa.RSAPrivateNumbers(num["Prime1"], num["Prime2"], num["PrivateExponent"],
                                         num["Exponent1"], num["Exponent2"], num["Coefficient"],
                                         pub).private_key()
        else:
            raise AssertionError("re-signing with algorithm %d" % alg)
        with open(base + ".key") as f:
            return priv, dnskey_of(f.read())

    def resign(self, owner, rdtype):
        t = dns.rdatatype.from_text(rdtype)
        name = dns.name.from_text(owner)
        node = self.node(owner)
        rds = node.get_rdataset(dns.rdataclass.IN, t)
        priv, dnskey = self.key(t == dns.rdatatype.DNSKEY)
        rrset = dns.rrset.RRset(name, dns.rdataclass.IN, t)
        rrset.update(rds)
        rrset.ttl = rds.ttl
        sig = dns.dnssec.sign(rrset, priv, self.origin, dnskey, inception=self.inception,
                              expiration=self.expiration)
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t)
        sigs = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t, create=True)
        sigs.add(sig, rds.ttl)

    def nsec_next(self, owner, next_name):
        """Point the NSEC at @owner to @next_name and re-sign it: a hole in the chain."""
        node = self.node(owner)
        rds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC)
        old = rds[0]
        ttl = rds.ttl
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC)
        new = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC, create=True)
        new.add(old.replace(next=dns.name.from_text(next_name)), ttl)
        self.resign(owner, "NSEC")

    def nsec3_unlink(self, name):
        """Take the NSEC3 of @name out of the chain (its predecessor now spans it) and
        re-sign the predecessor: with opt-out, how an unsigned delegation looks."""
        param = self.zone.get_rdataset(self.origin, "NSEC3PARAM")[0]
        h = dns.dnssec.nsec3_hash(name, param.salt, param.iterations, param.algorithm).lower()
        gone = dns.name.from_text(h, self.origin)
        node = self.zone.find_node(gone)
        nxt = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)[0].next
        for owner, n in list(self.zone.items()):
            rds = n.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)
            if rds and owner != gone:
                rd = rds[0]
                if base32hex(rd.next) == h:
                    ttl = rds.ttl
                    n.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)
                    n.find_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3, create=True).add(
                        rd.replace(next=nxt), ttl)
                    self.zone.delete_node(gone)
                    self.resign(owner.to_text(), "NSEC3")
                    return
        raise AssertionError("no NSEC3 points at %s (%s)" % (name, h))

    def garbage_sigs(self, owner, rdtype, n):
        """Replace the RRSIGs of (@owner, @rdtype) with @n of the same key tag and
        random signatures."""
        rng = random.Random(owner)
        t = dns.rdatatype.from_text(rdtype)
        node = self.node(owner)
        sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t)
        zsk_tag = dns.dnssec.key_id(self.key(False)[1])
        real, ttl = [s for s in sigs if s.key_tag == zsk_tag][0], sigs.ttl
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t)
        new = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, t, create=True)
        for _ in range(n):
            junk = bytes(rng.getrandbits(8) for _ in range(len(real.signature)))
            new.add(real.replace(signature=bytes([junk[0] & 0x7f]) + junk[1:]), ttl)

    def add_dnskeys(self, texts):
        """Add DNSKEYs (rdata texts) to the apex and re-sign the DNSKEY RRset with the KSK."""
        rds = self.zone.find_node(self.origin).get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        for t in texts:
            rds.add(dns.rdata.from_text("IN", "DNSKEY", t), rds.ttl)
        self.resign(self.origin.to_text(), "DNSKEY")

    def relabel_algorithm(self, alg):
        """Every DNSKEY and RRSIG as private algorithm @alg (key tags follow)."""
        tags = {}
        for owner, node in self.zone.items():
            rds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
            if rds:
                ttl, new = rds.ttl, [private_dnskey(k, alg) for k in rds]
                tags.update({dns.dnssec.key_id(k): dns.dnssec.key_id(p) for k, p in zip(rds, new)})
                node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
                nrds = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY, create=True)
                for k in new:
                    nrds.add(k, ttl)
        for owner, node in self.zone.items():
            for rds in list(node.rdatasets):
                if rds.rdtype != dns.rdatatype.RRSIG:
                    continue
                new = [s.replace(algorithm=alg, key_tag=tags[s.key_tag]) for s in rds]
                ttl, covers = rds.ttl, rds.covers
                node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covers)
                nrds = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covers, create=True)
                for s in new:
                    nrds.add(s, ttl)

    def save(self):
        self.zone.to_file(self.path, relativize=False, want_origin=True)


def base32hex(b):
    return base64.b32hexencode(b).decode().lower().rstrip("=")


def generate(model, gen):
    """Write zones/ (what knotd loads), unsigned/, keys/ and root.{ds,key} under @gen."""
    now = int(time.time())
    zones = model["zones"]
    for d in ("zones", "unsigned", "keys"):
        os.makedirs(os.path.join(gen, d))
    for z in zones.values():
        z.ds = []

    # Keys first (their DS go into the parents), in parallel: RSA takes a while.
    def make_keys(z):
        kd = os.path.join(gen, "keys", zone_file_name(z.name)[:-5])
        os.makedirs(kd)
        ksk, ksk_text = keygen(kd, z.name, z.signed, True, z.rsa_bits[0])
        zsk, zsk_text = keygen(kd, z.name, z.signed, False, z.rsa_bits[1])
        ds_key = dnskey_of(ksk_text)
        if z.bad_ds:
            unused, unused_text = keygen(kd, z.name, z.signed, True, z.rsa_bits[0])
            os.remove(unused + ".private")
            ds_key = dnskey_of(unused_text)
        if z.unsigning_ksk:
            # the DS names a KSK that is published but signs nothing; another KSK signs
            ds_key = dnskey_of(ksk_text)
            z.add(z.name, "DNSKEY", ds_key.to_text())
            os.rename(ksk + ".private", ksk + ".unused")
            ksk, _ = keygen(kd, z.name, z.signed, True, z.rsa_bits[0])
        if z.private_alg:
            ds_key = private_dnskey(ds_key, z.private_alg)
        if z.keytrap:
            # after signing: ldns-signzone would take a key of the ZSK's tag for the ZSK
            fakes = keytrap_dnskeys(z.name, dnskey_of(zsk_text), z.keytrap)
            z.edits = [("add_dnskeys", [k.to_text() for k in fakes])] + z.edits
        z.ds = ds_of(z.name, ds_key, z.ds_digest)
        return z.name, [ksk, zsk], ksk_text

    signed = [z for z in zones.values() if z.signed]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        keys = {name: (k, t) for name, k, t in pool.map(make_keys, signed)}

    for z in zones.values():
        with open(os.path.join(gen, "unsigned", zone_file_name(z.name)), "w") as f:
            f.write(zone_text(model, z))
        if not z.signed:
            shutil.copy(os.path.join(gen, "unsigned", zone_file_name(z.name)),
                        os.path.join(gen, "zones", zone_file_name(z.name)))

    # Sign bottom-up; a parent's zone text already holds its children's DS.
    by_depth = {}
    for z in signed:
        by_depth.setdefault(labels(z.name), []).append(z)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for depth in sorted(by_depth, reverse=True):
            list(pool.map(lambda z: sign(gen, z, keys[z.name][0], now), by_depth[depth]))

    root_key = keys["."][1]
    with open(os.path.join(gen, "root.key"), "w") as f:
        for l in root_key.splitlines():
            if "DNSKEY" in l and not l.startswith(";"):
                f.write(l.split(";")[0].rstrip() + "\n")
    with open(os.path.join(gen, "root.ds"), "w") as f:
        f.write("\n".join(zones["."].ds).replace(". 3600 IN DS", ". 86400 IN DS", 1) + "\n")
    with open(os.path.join(gen, "stamp"), "w") as f:
        f.write("%d\n" % now)


def generator_key(prefix):
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(prefix.encode())
    return h.hexdigest()[:16]


def cached_generation(model, rundir):
    """The generated zone directory for this source and prefix, made if missing or stale."""
    key = generator_key(model["prefix"])
    cache = os.path.join(rundir, "gen")
    os.makedirs(cache, exist_ok=True)
    gen = os.path.join(cache, key)
    try:
        with open(os.path.join(gen, "stamp")) as f:
            if time.time() - int(f.read()) < REGENERATE_AFTER_S:
                return gen
    except (OSError, ValueError):
        pass
    tmp = tempfile.mkdtemp(prefix="tmp-", dir=cache)
    generate(model, tmp)
    for old in os.listdir(cache):       # stale generations, or another prefix's
        if old != os.path.basename(tmp):
            shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
    os.rename(tmp, gen)
    return gen


# ---------------------------------------------------------------------------
# Running: knotd per group, the helper, readiness, pids.

def knot_conf(model, gid, gen, rundir):
    g = model["groups"][gid]
    gdir = os.path.join(rundir, "knot", gid)
    lines = [
        "server:",
        "    rundir: %s" % gdir,
        "    pidfile: %s" % os.path.join(gdir, "knot.pid"),
        "    listen: [ %s ]" % ", ".join("%s@53" % a for a in g["addrs"]),
        "    udp-workers: 1",
        "    tcp-workers: 1",
        "    background-workers: 1",
        "database:",
        "    storage: %s" % os.path.join(gdir, "db"),
        "log:",
        "  - target: stderr",
        "    any: warning",
        "template:",
        "  - id: default",
        "    storage: %s" % os.path.join(gen, "zones"),
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "    semantic-checks: off",
    ]
    if g["zones"]:
        lines.append("zone:")
        for zname in g["zones"]:
            lines += ["  - domain: \"%s\"" % zname,
                      "    file: \"%s\"" % zone_file_name(zname)]
    os.makedirs(os.path.join(gdir, "db"), exist_ok=True)
    path = os.path.join(gdir, "knot.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def probe(addr, qname, expect_aa, deadline, timeout_s=0.3):
    """Wait until @addr answers @qname SOA (authoritatively, when @expect_aa)."""
    q = dns.message.make_query(qname, "SOA")
    q.flags &= ~dns.flags.RD
    while True:
        try:
            r = dns.query.udp(q, addr, timeout=timeout_s)
            if not expect_aa or (r.flags & dns.flags.AA and r.rcode() == dns.rcode.NOERROR):
                return
        except (dns.exception.Timeout, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("%s does not answer %s SOA" % (addr, qname))
        time.sleep(0.05)


def probe_tcp(addr, deadline):
    while True:
        try:
            socket.create_connection((addr, 53), timeout=0.3).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("nothing listens on %s:53/tcp" % addr)
            time.sleep(0.05)


def check_addresses_free(model):
    """Fail unless nothing listens on our addresses: knotd binds UDP with
    SO_REUSEPORT, so a second simnet on the same prefix would start and share
    the traffic with the first one, with other keys."""
    addrs = [a for g in model["groups"].values() for a in g["addrs"]]
    addrs += model["dead"] + model["blackhole"] + list(model["slow"])
    for a in addrs:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # TIME_WAIT is fine
            try:
                s.bind((a, 53))
            except OSError as e:
                raise RuntimeError("%s:53 is in use (%s): another simnet on this prefix? "
                                   "stop it, or set SIMNET_PREFIX=127.N" % (a, e.strerror))


def read_pids(rundir):
    try:
        with open(os.path.join(rundir, "pids")) as f:
            return [(int(l.split()[0]), l.split()[1]) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def pid_alive(pid, what):
    """True when @pid is running and is still the process we started (@what in its cmdline)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and what in cmdline


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status(rundir=DEFAULT_DIR):
    pids = read_pids(rundir)
    return bool(pids) and all(pid_alive(pid, what) for pid, what in pids)


def start(rundir=DEFAULT_DIR, prefix=None, quiet=False):
    """Start the simulated internet in @rundir; returns the model summary (simnet.json)."""
    rundir = os.path.abspath(rundir)
    prefix = prefix or prefix_from_env()
    os.makedirs(rundir, exist_ok=True)
    info_path = os.path.join(rundir, "simnet.json")
    if status(rundir):
        with open(info_path) as f:
            info = json.load(f)
        if info["prefix"] == prefix:
            return info
    stop(rundir)

    t0 = time.monotonic()
    model = build_model(prefix)
    check_addresses_free(model)
    gen = cached_generation(model, rundir)
    t_gen = time.monotonic() - t0
    for f in ("root.ds", "root.key"):
        shutil.copy(os.path.join(gen, f), os.path.join(rundir, f))
    with open(os.path.join(rundir, "root.hints"), "w") as f:
        f.write("; tern simulated internet: root hints\n")
        for n in model["zones"]["."].ns:
            f.write(".                        3600000      NS    %s\n" % n.upper())
        for n in model["zones"]["."].ns:
            f.write("%-24s 3600000      A     %s\n" % (n.upper(), model["hosts"][n]))
    logdir = os.path.join(rundir, "log")
    os.makedirs(logdir, exist_ok=True)

    started = []
    try:
        for gid in model["groups"]:
            conf = knot_conf(model, gid, gen, rundir)
            with open(os.path.join(logdir, gid + ".log"), "w") as log:
                proc = subprocess.Popen(["knotd", "-c", conf], stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=log, start_new_session=True)
            started.append((proc.pid, "knotd"))
            write_pids(rundir, started)
        helper = [sys.executable, os.path.abspath(__file__), "helper"]
        helper += ["--blackhole=" + a for a in model["blackhole"]]
        helper += ["--slow=%s=%s=%s" % (a, b, SLOW_DELAY_S) for a, b in model["slow"].items()]
        with open(os.path.join(logdir, "helper.log"), "w") as log:
            proc = subprocess.Popen(helper, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        started.append((proc.pid, "simnet"))
        write_pids(rundir, started)

        deadline = time.monotonic() + START_TIMEOUT_S
        checks = []
        for gid, g in model["groups"].items():
            for a in g["addrs"]:
                if g["zones"]:
                    checks += [(a, z, True) for z in g["zones"]]
                else:
                    checks.append((a, "nowhere.", False))
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futs = [pool.submit(probe, a, z, aa, deadline) for a, z, aa in checks]
            futs += [pool.submit(probe_tcp, a, deadline) for a in model["blackhole"]]
            futs += [pool.submit(probe, a, "slow.test.", True, deadline, 0.3 + SLOW_DELAY_S)
                     for a in model["slow"]]
            for fut in futs:
                fut.result()
    except BaseException:
        for pid, what in started:
            kill(pid, what)
        try:
            os.remove(os.path.join(rundir, "pids"))
        except FileNotFoundError:
            pass
        raise

    info = {
        "prefix": prefix,
        "dir": rundir,
        "zones_dir": os.path.join(gen, "zones"),
        "unsigned_dir": os.path.join(gen, "unsigned"),
        "groups": model["groups"],
        "zones": {z.name: {"ns": z.ns, "addrs": [model["hosts"][n] for n in z.ns],
                           "served_by": z.served_by, "signed": z.signed}
                  for z in model["zones"].values()},
        "hosts": model["hosts"],
        "dead": model["dead"],
        "blackhole": model["blackhole"],
        "slow": model["slow"],
    }
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    if not quiet:
        print("simnet: %d servers, %d zones, up in %.1f s (generation %.1f s) in %s" % (
            len(started), len(model["zones"]), time.monotonic() - t0, t_gen, rundir))
    return info


def write_pids(rundir, started):
    with open(os.path.join(rundir, "pids"), "w") as f:
        for pid, what in started:
            f.write("%d %s\n" % (pid, what))


def kill(pid, what):
    if not pid_alive(pid, what):
        reap(pid)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return


def stop(rundir=DEFAULT_DIR, quiet=True):
    """Stop exactly the processes listed in @rundir/pids and wait for them."""
    rundir = os.path.abspath(rundir)
    pids = read_pids(rundir)
    for pid, what in pids:
        kill(pid, what)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for pid, what in pids:
        while pid_alive(pid, what):
            reap(pid)
            if time.monotonic() > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.05)
                reap(pid)
                break
            time.sleep(0.02)
        reap(pid)
    try:
        os.remove(os.path.join(rundir, "pids"))
    except FileNotFoundError:
        pass
    if pids and not quiet:
        print("simnet: stopped %d processes" % len(pids))


# ---------------------------------------------------------------------------
# The helper: black holes and slow servers.

async def helper_main(blackholes, slows):
    loop = asyncio.get_running_loop()

    class Blackhole(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            pass

    async def hold(reader, writer):
        try:
            while await reader.read(4096):
                pass
        finally:
            writer.close()

    class SlowUdp(asyncio.DatagramProtocol):
        def __init__(self, backend, delay):
            self.backend, self.delay = backend, delay

        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            loop.create_task(self.forward(data, addr))

        async def forward(self, data, addr):
            await asyncio.sleep(self.delay)
            answer = loop.create_future()

            class Once(asyncio.DatagramProtocol):
                def datagram_received(self, d, a):
                    if not answer.done():
                        answer.set_result(d)

            t, _ = await loop.create_datagram_endpoint(Once, remote_addr=(self.backend, 53))
            try:
                t.sendto(data)
                self.transport.sendto(await asyncio.wait_for(answer, 2), addr)
            except asyncio.TimeoutError:
                pass
            finally:
                t.close()

    def slow_tcp(backend, delay):
        async def handle(reader, writer):
            try:
                while True:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                    msg = await reader.readexactly(n)
                    await asyncio.sleep(delay)
                    br, bw = await asyncio.open_connection(backend, 53)
                    bw.write(len(msg).to_bytes(2, "big") + msg)
                    n = int.from_bytes(await br.readexactly(2), "big")
                    writer.write(n.to_bytes(2, "big") + await br.readexactly(n))
                    bw.close()
            except (asyncio.IncompleteReadError, OSError):
                pass
            finally:
                writer.close()
        return handle

    for a in blackholes:
        await loop.create_datagram_endpoint(Blackhole, local_addr=(a, 53))
        await asyncio.start_server(hold, a, 53)
    for a, backend, delay in slows:
        await loop.create_datagram_endpoint(lambda: SlowUdp(backend, delay), local_addr=(a, 53))
        await asyncio.start_server(slow_tcp(backend, delay), a, 53)
    stop_event = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop_event.set)
    loop.add_signal_handler(signal.SIGINT, stop_event.set)
    await stop_event.wait()


def helper(args):
    blackholes = [a.split("=", 1)[1] for a in args if a.startswith("--blackhole=")]
    slows = []
    for a in args:
        if a.startswith("--slow="):
            listen, backend, delay = a.split("=", 1)[1].split("=")
            slows.append((listen, backend, float(delay)))
    asyncio.run(helper_main(blackholes, slows))


def main(argv):
    usage = "usage: simnet start|stop|status [DIR]   (env SIMNET_PREFIX, default %s)" % DEFAULT_PREFIX
    if len(argv) >= 2 and argv[1] == "helper":
        helper(argv[2:])
        return 0
    if len(argv) not in (2, 3) or argv[1] not in ("start", "stop", "status"):
        print(usage, file=sys.stderr)
        return 2
    rundir = argv[2] if len(argv) == 3 else DEFAULT_DIR
    if argv[1] == "start":
        try:
            start(rundir)
        except RuntimeError as e:
            print("simnet: %s (logs in %s)" % (e, os.path.join(rundir, "log")), file=sys.stderr)
            return 1
    elif argv[1] == "stop":
        stop(rundir, quiet=False)
    else:
        up = status(rundir)
        print("running" if up else "stopped")
        return 0 if up else 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
