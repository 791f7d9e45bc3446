"""tests/net/fakeauth: a scriptable, misbehaving authoritative DNS server.

The project's rule is real servers (Knot, in the simnet) everywhere, and a fake
only for what no real server does: spoofed IDs, replies to other questions,
garbage, out-of-bailiwick records, referral floods, endless CNAME chains, slow
and silent servers, TC on every UDP reply, upward referrals. This module is
that fake: a tiny internet of its own, on loopback port 53, in threads of the
test process (dnspython; UDP and TCP).

    with FakeNet() as net:                 # binds P.x.y:53, P = 127.55 (or the next free prefix)
        t = ternd(root_hints=net.hints)    # the conftest fixture
        net.reset()
        t.query("spoof-id.bad", "A")
        net.count(qname="spoof-id.bad")    # queries the fake servers received

The model (P is the prefix; every delegation has glue unless said otherwise):

    .               P.0.1   a.root-servers.fake. (the root; its hints: net.hints)
      bad.          P.1.1   ns1.bad.   behaviour chosen by the label under bad.
                    P.1.2   ns2.bad.   (see BAD_BEHAVIOURS)
        loopx.bad.  P.4.1   endless CNAMEs c<N>.loopx.bad -> c<N+1>.loopy.bad
        loopy.bad.  P.4.2   ... c<N>.loopy.bad -> c<N+1>.loopx.bad
        slow.bad.   P.6.1   answers after SLOW_DELAY_S
                    P.6.2   never answers
                    P.6.3   answers at once
        warmslow.bad. P.6.3 (ns3.slow.bad) answers after WARMSLOW_DELAY_S: asking it
                    first makes a resolver try ns1/ns2.slow.bad before ns3 (RTT order)
        silent.bad. P.7.1, P.7.2   never answer (UDP read, TCP accepted, no reply)
        nxns.bad.   glueless: NXNS_COUNT NS names ns<N>.nxns-target.
      nxns-target.  P.5.1   answers NXDOMAIN after NXNS_DELAY_S
      victim.       P.9.1   ns1.victim.: the real data of the names bad. tries to poison

Answers are in 192.0.2.0/24 (see ANSWERS); poison is always POISON. Every query
a fake server receives is recorded as Query(server, qname, qtype, proto), with
qname lower case and absolute, qtype as text ("A"), proto "udp" or "tcp".

Scripting: each FakeServer answers from its Zones like a correct authoritative
server (referrals with glue, AA answers, in-zone CNAMEs chased, NODATA and
NXDOMAIN with the SOA, REFUSED outside its zones; over UDP, a reply larger than
the query's EDNS size goes out empty with TC=1). Its behaviour function,
fn(server, query, proto) -> [Reply] or None (None: the correct answer), can
replace that: any number of replies, each a Message or raw bytes, each after
its own delay and from any server's socket; [] is silence. server.default(query)
is the correct answer, to start from. A new case is a new label under bad. in
bad_behaviour() (and its data in ANSWERS / _build()), or a new server.

Set FAKEAUTH_PREFIX=127.N to choose the prefix; otherwise the first of
127.55 .. 127.75 whose addresses are all free is used, so that two test runs on
one host do not share servers.
"""

import collections
import os
import random
import shutil
import socket
import struct
import tempfile
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 300
NEG_TTL = 30
POISON = "203.0.113.66"
SLOW_DELAY_S = 2.0         # the slow server of slow.bad
NXNS_COUNT = 100           # NS names in the referral flood
NXNS_DELAY_S = 0.3         # nxns-target. answers this late
GOOD_DELAY_S = 0.1         # ns2.bad answers the garbage-* names this late (see below)
WARMSLOW_DELAY_S = 0.3     # ns3.slow.bad answers for warmslow.bad this late
CHAIN_LEN = 20             # CNAMEs per reply for cnchain.bad
SPOOF_GAP_S = 0.05         # the right reply follows the forged one after this

# The data the good servers hold (the answer a resolver must return).
ANSWERS = {
    "spoof-id.bad.": "192.0.2.1",
    "spoof-addr.bad.": "192.0.2.2",
    "wrong-question.bad.": "192.0.2.3",
    "warm-garbage.bad.": "192.0.2.4",
    "www.oob.bad.": "192.0.2.5",
    "tc.bad.": "192.0.2.6",
    "tc-spoof.bad.": "192.0.2.13",
    "bigttl.bad.": "192.0.2.14",
    "target.unchased.bad.": "192.0.2.7",
    "www.slow.bad.": "192.0.2.8",
    "www.warmslow.bad.": "192.0.2.12",
    "www.victim.": "192.0.2.9",
    "www2.victim.": "192.0.2.10",
    "www3.victim.": "192.0.2.11",
}
GARBAGE_KINDS = ("random", "random-id", "short", "ptrloop", "rdlength", "counts")
for _k in GARBAGE_KINDS:
    ANSWERS["garbage-%s.bad." % _k] = "192.0.2.20"

# What ns1.bad and ns2.bad do for the names under each label of bad.:
BAD_BEHAVIOURS = {
    "spoof-id": "first a reply with another ID (and POISON), then the right one",
    "spoof-addr": "first the right ID from another address (the other bad. server's socket), "
                  "then the right one",
    "wrong-question": "replies with the right ID to another name, to another type, a QR=0 copy; "
                      "then the right one",
    "garbage-KIND": "ns1.bad sends garbage of KIND (GARBAGE_KINDS); ns2.bad answers after "
                    "GOOD_DELAY_S",
    "warm-garbage": "answered by both, ns2.bad after GOOD_DELAY_S: afterwards a resolver "
                    "prefers ns1.bad (lower RTT, or unknown against 0.1 s)",
    "oob": "www.oob.bad A with POISON for www.victim. in answer and additional, and victim. "
           "NS ns.evil.bad in authority; cname.oob.bad CNAME www2.victim. with POISON for "
           "www2.victim.",
    "tc": "TC=1 and no records over UDP; the answer over TCP",
    "upward": "a referral to the root (. NS a.root-servers.fake.)",
    "lateral": "a referral to bad. itself",
    "sideways": "a referral to victim. (not below bad.)",
    "cnloop": "c<N>.cnloop.bad CNAME c<N+1>.cnloop.bad, one per reply, no SOA (AA)",
    "cnchain": "c<N>.cnchain.bad: CHAIN_LEN CNAMEs in one reply, c<N> .. c<N+CHAIN_LEN>",
    "unchased": "www.unchased.bad CNAME target.unchased.bad without the target's A nor an SOA",
    "tc-spoof": "TC=1 over UDP; over TCP a reply with another ID (and POISON), then the right one",
    "deepref": "every name below deepref.bad is referred to itself (NS ns1.bad.): one more cut "
               "per label, as deep as the query name goes",
    "bigttl": "bigttl.bad A with TTL 2^31 + 5 (RFC 2181 8: to be read as 0)",
}
BIG_TTL = 2 ** 31 + 5


Query = collections.namedtuple("Query", "server qname qtype proto")


class Reply:
    """One datagram (or TCP message) a fake server sends: @payload (a Message or bytes),
    @delay seconds after the query arrived, from @via (another FakeServer's UDP socket)."""

    def __init__(self, payload, delay=0.0, via=None):
        self.payload = payload
        self.delay = delay
        self.via = via

    def wire(self):
        if isinstance(self.payload, (bytes, bytearray)):
            return bytes(self.payload)
        return self.payload.to_wire(max_size=65535)


def N(text):
    return dns.name.from_text(text)


# ---------------------------------------------------------------------------
# Zones and authoritative answers.

class Zone:
    """A zone: records by (owner, type), delegations (child cuts) with their NS RRsets."""

    def __init__(self, origin, ns):
        self.origin = N(origin)
        self.rrsets = {}
        self.cuts = set()
        self.add(origin, "SOA", "%s hostmaster.%s 1 3600 600 86400 %d" % (
            ns[0][0], origin if origin != "." else "", NEG_TTL))
        self.add(origin, "NS", *[n for n, _ in ns])
        for name, addr in ns:
            if addr and N(name).is_subdomain(self.origin):
                self.add(name, "A", addr)

    def add(self, owner, rdtype, *rdatas, ttl=TTL):
        key = (N(owner), dns.rdatatype.from_text(rdtype))
        rs = self.rrsets.get(key)
        new = dns.rrset.from_text(key[0], ttl, "IN", rdtype, *rdatas)
        if rs is None:
            self.rrsets[key] = new
        else:
            rs.union_update(new)

    def delegate(self, child, ns):
        """Delegate @child to @ns, [(name, addr or None)]; glue for the names inside this zone."""
        self.cuts.add(N(child))
        self.add(child, "NS", *[n for n, _ in ns])
        for name, addr in ns:
            if addr and N(name).is_subdomain(self.origin):
                self.add(name, "A", addr)

    def get(self, name, rdtype):
        return self.rrsets.get((name, rdtype))

    def cut_above(self, name, rdtype):
        """The delegation at or above @name (strictly below the origin), if any."""
        best = None
        for c in self.cuts:
            if name.is_subdomain(c) and not (name == c and rdtype == dns.rdatatype.DS):
                if best is None or len(c) > len(best):
                    best = c
        return best

    def exists(self, name):
        return any(owner.is_subdomain(name) for owner, _ in self.rrsets)

    def soa(self):
        return self.get(self.origin, dns.rdatatype.SOA)


def response(q, aa=True):
    r = dns.message.make_response(q)
    r.flags &= ~dns.flags.RA
    if aa:
        r.flags |= dns.flags.AA
    return r


def add_addresses(r, zone, ns):
    """The addresses @zone has for the names in the NS RRset @ns, in the additional section."""
    for rd in ns:
        for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
            g = zone.get(rd.target, t)
            if g is not None:
                r.additional.append(g)


def referral(q, zone, cut):
    """A referral from @zone to the NS set at @cut, with the glue @zone has."""
    r = response(q, aa=False)
    ns = zone.get(cut, dns.rdatatype.NS)
    r.authority.append(ns)
    add_addresses(r, zone, ns)
    return r


def authoritative(zones, q):
    """What a correct authoritative server for @zones answers to @q (a Message)."""
    qname = q.question[0].name
    qtype = q.question[0].rdtype
    zone = None
    for z in zones:
        if qname.is_subdomain(z.origin) and (zone is None or len(z.origin) > len(zone.origin)):
            zone = z
    if zone is None or q.question[0].rdclass != dns.rdataclass.IN:
        r = response(q, aa=False)
        r.set_rcode(dns.rcode.REFUSED)
        return r
    cut = zone.cut_above(qname, qtype)
    if cut is not None:
        return referral(q, zone, cut)
    r = response(q)
    name = qname
    for _ in range(8):  # follow CNAMEs inside the zone, as real servers do
        rs = zone.get(name, qtype)
        if rs is not None:
            r.answer.append(rs)
            if qtype == dns.rdatatype.NS:
                add_addresses(r, zone, rs)  # e.g. priming (RFC 8109 4)
            return r
        cn = zone.get(name, dns.rdatatype.CNAME)
        if cn is None or qtype == dns.rdatatype.CNAME:
            break
        r.answer.append(cn)
        name = cn[0].target
        if not name.is_subdomain(zone.origin) or zone.cut_above(name, qtype) is not None:
            return r
    if not zone.exists(name):
        r.set_rcode(dns.rcode.NXDOMAIN)
    r.authority.append(zone.soa())
    return r


def fit_udp(rep):
    """@rep, or an empty reply with TC=1 when it is larger than its query allows (RFC 6891 7)."""
    m = rep.payload
    if not isinstance(m, dns.message.Message):
        return rep
    limit = max(512, m.payload) if m.edns >= 0 else 512
    if len(m.to_wire(max_size=65535)) <= limit:
        return rep
    tc = dns.message.Message(id=m.id)
    tc.flags = m.flags | dns.flags.TC
    tc.question = list(m.question)
    if m.edns >= 0:
        tc.use_edns(m.edns, payload=m.payload)
    return Reply(tc, rep.delay, rep.via)


# ---------------------------------------------------------------------------
# One server: UDP and TCP on addr:53, a thread each, one more per TCP connection.

class FakeServer:
    def __init__(self, net, addr, name, zones, behaviour=None, silent=False):
        self.net = net
        self.addr = addr
        self.name = name
        self.zones = zones
        self.behaviour = behaviour  # fn(server, query, proto) -> [Reply] or None (the default)
        self.silent = silent
        self.udp = None
        self.tcp = None
        self.threads = []
        self.conns = set()
        self.lock = threading.Lock()

    def bind(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((self.addr, 53))
        self.udp.settimeout(0.1)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((self.addr, 53))
        self.tcp.listen(64)
        self.tcp.settimeout(0.1)

    def start(self):
        for fn in (self._udp_loop, self._tcp_loop):
            t = threading.Thread(target=fn, daemon=True, name="fakeauth-%s" % self.addr)
            t.start()
            self.threads.append(t)

    def close(self):
        for s in (self.udp, self.tcp):
            if s is not None:
                s.close()
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()

    def join(self):
        for t in self.threads:
            t.join(2)

    # the default answer, for behaviours that only change part of it
    def default(self, q):
        return authoritative(self.zones, q)

    def _replies(self, wire, proto):
        try:
            q = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return []
        if q.flags & dns.flags.QR or len(q.question) != 1:
            return []
        self.net._record(self, q, proto)
        if self.silent:
            return []
        out = self.behaviour(self, q, proto) if self.behaviour else None
        if out is None:
            out = [Reply(self.default(q))]
        return out

    def _udp_loop(self):
        while not self.net.stopping.is_set():
            try:
                wire, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            for rep in self._replies(wire, "udp"):
                self._udp_send(fit_udp(rep), peer)

    def _udp_send(self, rep, peer):
        sock = (rep.via or self).udp

        def send():
            if self.net.stopping.is_set():
                return
            try:
                sock.sendto(rep.wire(), peer)
            except OSError:
                pass
        if rep.delay > 0:
            self.net._later(rep.delay, send)
        else:
            send()

    def _tcp_loop(self):
        while not self.net.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conns.add(conn)
            t = threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True)
            t.start()

    def _tcp_conn(self, conn):
        conn.settimeout(0.2)
        buf = b""
        try:
            while not self.net.stopping.is_set():
                try:
                    data = conn.recv(65535)
                except socket.timeout:
                    continue
                if not data:
                    return
                buf += data
                while len(buf) >= 2:
                    n = struct.unpack("!H", buf[:2])[0]
                    if len(buf) < 2 + n:
                        break
                    wire, buf = buf[2:2 + n], buf[2 + n:]
                    for rep in self._replies(wire, "tcp"):
                        if rep.delay > 0 and self.net.stopping.wait(rep.delay):
                            return
                        w = rep.wire()
                        conn.sendall(struct.pack("!H", len(w)) + w)
        except OSError:
            return
        finally:
            with self.lock:
                self.conns.discard(conn)
            conn.close()


# ---------------------------------------------------------------------------
# The behaviours.

def _label_under(qname, parent):
    """The label of @qname just below @parent (text, lower case), or None."""
    if not qname.is_subdomain(parent) or qname == parent:
        return None
    rel = qname.relativize(parent)
    return rel.labels[-1].decode("ascii", "replace").lower()


def _a_reply(q, addr, name=None):
    r = response(q)
    name = name or q.question[0].name
    r.answer.append(dns.rrset.from_text(name, TTL, "IN", "A", addr))
    return r


def _garbage(kind, q, good, rng):
    """Bytes that are not a usable reply to @q, of @kind."""
    qid = q.id
    if kind == "random":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 80)))
    if kind == "random-id":
        # the right ID and QR=1, then noise
        return struct.pack("!HH", qid, 0x8400) + bytes(rng.getrandbits(8) for _ in range(60))
    if kind == "short":
        return good.to_wire()[:7]  # a truncated header
    qwire = q.to_wire()
    # header + the question as asked (so the reply matches), then one bad record
    qlen = 12 + len(q.question[0].name.to_wire()) + 4
    question = qwire[12:qlen]
    hdr = lambda an, ar: struct.pack("!HHHHHH", qid, 0x8400, 1, an, 0, ar)  # noqa: E731
    if kind == "ptrloop":
        # answer owner: a pointer to itself (offset qlen), a compression loop
        rr = struct.pack("!HHHIH", 0xC000 | qlen, 1, 1, TTL, 4) + bytes([192, 0, 2, 99])
        return hdr(1, 0) + question + rr
    if kind == "rdlength":
        # RDLENGTH 200 with 4 bytes of RDATA: past the end of the message
        rr = struct.pack("!HHHIH", 0xC00C, 1, 1, TTL, 200) + bytes([192, 0, 2, 99])
        return hdr(1, 0) + question + rr
    if kind == "counts":
        # ANCOUNT 5, ARCOUNT 3 with one record present
        rr = struct.pack("!HHHIH", 0xC00C, 1, 1, TTL, 4) + bytes([192, 0, 2, 99])
        return hdr(5, 3) + question + rr
    raise ValueError(kind)


def bad_behaviour(srv, q, proto):
    net = srv.net
    qname = q.question[0].name
    qtype = q.question[0].rdtype
    label = _label_under(qname, N("bad."))
    if label is None:
        return None
    good = srv.default(q)

    if label == "spoof-id":
        forged = _a_reply(q, POISON)
        forged.id = (q.id + 0x5555) & 0xFFFF
        return [Reply(forged), Reply(good, SPOOF_GAP_S)]

    if label == "spoof-addr":
        other = net.server("ns2.bad.") if srv.name == "ns1.bad." else net.server("ns1.bad.")
        return [Reply(_a_reply(q, POISON), via=other), Reply(good, SPOOF_GAP_S)]

    if label == "wrong-question":
        other_name = dns.message.make_query(dns.name.Name((b"evil",) + qname.labels), qtype)
        other_name.id = q.id
        other_type = dns.message.make_query(
            qname, dns.rdatatype.AAAA if qtype != dns.rdatatype.AAAA else dns.rdatatype.A)
        other_type.id = q.id
        r1 = _a_reply(other_name, POISON)
        r2 = response(other_type)
        r2.answer.append(dns.rrset.from_text(qname, TTL, "IN", "A", POISON))
        r3 = _a_reply(q, POISON)
        r3.flags &= ~dns.flags.QR
        return [Reply(r1), Reply(r2), Reply(r3), Reply(good, SPOOF_GAP_S)]

    if label.startswith("garbage-") or label == "warm-garbage":
        if srv.name == "ns2.bad.":
            return [Reply(good, GOOD_DELAY_S)]
        if label == "warm-garbage":
            return [Reply(good)]
        kind = label[len("garbage-"):]
        return [Reply(_garbage(kind, q, good, net.rng))]

    if label == "oob":
        r = good
        if qname == N("www.oob.bad."):
            r.answer.append(dns.rrset.from_text("www.victim.", TTL, "IN", "A", POISON))
            r.authority.append(dns.rrset.from_text("victim.", TTL, "IN", "NS", "ns.evil.bad."))
            r.additional.append(dns.rrset.from_text("www.victim.", TTL, "IN", "A", POISON))
            r.additional.append(dns.rrset.from_text("ns1.victim.", TTL, "IN", "A", POISON))
            r.additional.append(dns.rrset.from_text("ns.evil.bad.", TTL, "IN", "A", POISON))
        elif qname == N("cname.oob.bad."):
            # good already holds the CNAME; add what the target "is"
            r.answer.append(dns.rrset.from_text("www2.victim.", TTL, "IN", "A", POISON))
        return [Reply(r)]

    if label in ("tc", "tc-spoof"):
        if proto == "udp":
            r = response(q)
            r.flags |= dns.flags.TC
            return [Reply(r)]
        if label == "tc-spoof":
            forged = _a_reply(q, POISON)
            forged.id = (q.id + 0x5555) & 0xFFFF
            return [Reply(forged), Reply(good)]
        return [Reply(good)]

    if label == "deepref" and len(qname) > 3:
        r = response(q, aa=False)
        r.authority.append(dns.rrset.from_text(qname, TTL, "IN", "NS", "ns1.bad."))
        return [Reply(r)]

    if label == "bigttl" and qname == N("bigttl.bad."):
        r = response(q)
        r.answer.append(dns.rrset.from_text(qname, BIG_TTL, "IN", "A", ANSWERS["bigttl.bad."]))
        return [Reply(r)]

    if label in ("upward", "lateral", "sideways"):
        zone_of = {"upward": ".", "lateral": "bad.", "sideways": "victim."}[label]
        r = response(q, aa=False)
        ns_name = {"upward": "a.root-servers.fake.", "lateral": "ns1.bad.",
                   "sideways": "ns1.victim."}[label]
        r.authority.append(dns.rrset.from_text(zone_of, TTL, "IN", "NS", ns_name))
        r.additional.append(dns.rrset.from_text(ns_name, TTL, "IN", "A",
                                                net.addr_of(ns_name)))
        return [Reply(r)]

    if label in ("cnloop", "cnchain") and len(qname) > 3:
        first = qname.labels[0].decode("ascii", "replace").lower()
        if first.startswith("c") and first[1:].isdigit():
            n = int(first[1:])
            zone = N(label + ".bad.")
            r = response(q)
            steps = 1 if label == "cnloop" else CHAIN_LEN
            for i in range(n, n + steps):
                r.answer.append(dns.rrset.from_text(
                    dns.name.Name((b"c%d" % i,)).concatenate(zone), TTL, "IN", "CNAME",
                    dns.name.Name((b"c%d" % (i + 1),)).concatenate(zone).to_text()))
            return [Reply(r)]
        return None

    if label == "unchased" and qname == N("www.unchased.bad."):
        r = response(q)
        r.answer.append(dns.rrset.from_text(qname, TTL, "IN", "CNAME", "target.unchased.bad."))
        return [Reply(r)]

    return None


def loop_behaviour(srv, q, proto):
    """c<N>.loopx.bad -> c<N+1>.loopy.bad -> c<N+2>.loopx.bad ... (each zone its own server)."""
    qname = q.question[0].name
    here, there = ("loopx", "loopy") if srv.name == "ns1.loopx.bad." else ("loopy", "loopx")
    first = qname.labels[0].decode("ascii", "replace").lower()
    if len(qname) != 4 or not (first.startswith("c") and first[1:].isdigit()):
        return None
    n = int(first[1:])
    r = response(q)
    r.answer.append(dns.rrset.from_text(qname, TTL, "IN", "CNAME",
                                        "c%d.%s.bad." % (n + 1, there)))
    return [Reply(r)]


def slow_behaviour(srv, q, proto):
    if srv.name == "ns1.slow.bad.":
        return [Reply(srv.default(q), SLOW_DELAY_S)]
    if q.question[0].name.is_subdomain(N("warmslow.bad.")):
        return [Reply(srv.default(q), WARMSLOW_DELAY_S)]
    return None


def nxns_target_behaviour(srv, q, proto):
    return [Reply(srv.default(q), NXNS_DELAY_S)]


# ---------------------------------------------------------------------------
# The whole fake internet.

# 127.53 is the simnet's, 127.54 its documented alternative, 127.77 test_getaddrinfo's
PREFIX_CANDIDATES = ["127.%d" % n for n in range(55, 76)]


class FakeNet:
    def __init__(self, prefix=None, seed=1):
        self.prefix = prefix or os.environ.get("FAKEAUTH_PREFIX")
        self.rng = random.Random(seed)
        self.servers = []
        self.queries = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.timers = []
        self.dir = None
        self.hints = None

    # -- addresses and names

    def a(self, suffix):
        return "%s.%s" % (self.prefix, suffix)

    def server(self, name):
        for s in self.servers:
            if s.name == name:
                return s
        raise KeyError(name)

    def addr_of(self, name):
        return self.server(name).addr

    # -- the model

    def _build(self):
        a = self.a
        root = Zone(".", [("a.root-servers.fake.", a("0.1"))])
        root.add("a.root-servers.fake.", "A", a("0.1"))
        root.delegate("bad.", [("ns1.bad.", a("1.1")), ("ns2.bad.", a("1.2"))])
        root.delegate("victim.", [("ns1.victim.", a("9.1"))])
        root.delegate("nxns-target.", [("ns1.nxns-target.", a("5.1"))])

        bad = Zone("bad.", [("ns1.bad.", a("1.1")), ("ns2.bad.", a("1.2"))])
        for name, addr in ANSWERS.items():
            if name.endswith(".bad.") and not name.endswith("slow.bad."):
                bad.add(name, "A", addr)
        for label in ("spoof-id", "spoof-addr", "wrong-question", "oob", "tc", "upward",
                      "lateral", "sideways", "cnloop", "cnchain", "unchased", "deepref"):
            bad.add(label + ".bad.", "TXT", '"%s"' % label)
        bad.add("cname.oob.bad.", "CNAME", "www2.victim.")
        bad.add("www.unchased.bad.", "CNAME", "target.unchased.bad.")
        bad.delegate("loopx.bad.", [("ns1.loopx.bad.", a("4.1"))])
        bad.delegate("loopy.bad.", [("ns1.loopy.bad.", a("4.2"))])
        bad.delegate("slow.bad.", [("ns1.slow.bad.", a("6.1")), ("ns2.slow.bad.", a("6.2")),
                                   ("ns3.slow.bad.", a("6.3"))])
        bad.delegate("warmslow.bad.", [("ns3.slow.bad.", a("6.3"))])
        bad.delegate("silent.bad.", [("ns1.silent.bad.", a("7.1")),
                                     ("ns2.silent.bad.", a("7.2"))])
        bad.delegate("nxns.bad.", [("ns%d.nxns-target." % i, None)
                                   for i in range(1, NXNS_COUNT + 1)])

        loopx = Zone("loopx.bad.", [("ns1.loopx.bad.", a("4.1"))])
        loopy = Zone("loopy.bad.", [("ns1.loopy.bad.", a("4.2"))])
        slow = Zone("slow.bad.", [("ns1.slow.bad.", a("6.1")), ("ns2.slow.bad.", a("6.2")),
                                  ("ns3.slow.bad.", a("6.3"))])
        slow.add("www.slow.bad.", "A", ANSWERS["www.slow.bad."])
        warmslow = Zone("warmslow.bad.", [("ns3.slow.bad.", a("6.3"))])
        warmslow.add("www.warmslow.bad.", "A", ANSWERS["www.warmslow.bad."])
        silent = Zone("silent.bad.", [("ns1.silent.bad.", a("7.1"))])
        nxt = Zone("nxns-target.", [("ns1.nxns-target.", a("5.1"))])
        victim = Zone("victim.", [("ns1.victim.", a("9.1"))])
        for name, addr in ANSWERS.items():
            if name.endswith(".victim."):
                victim.add(name, "A", addr)

        S = FakeServer
        self.servers = [
            S(self, a("0.1"), "a.root-servers.fake.", [root]),
            S(self, a("1.1"), "ns1.bad.", [bad], bad_behaviour),
            S(self, a("1.2"), "ns2.bad.", [bad], bad_behaviour),
            S(self, a("4.1"), "ns1.loopx.bad.", [loopx], loop_behaviour),
            S(self, a("4.2"), "ns1.loopy.bad.", [loopy], loop_behaviour),
            S(self, a("5.1"), "ns1.nxns-target.", [nxt], nxns_target_behaviour),
            S(self, a("6.1"), "ns1.slow.bad.", [slow], slow_behaviour),
            S(self, a("6.2"), "ns2.slow.bad.", [slow], silent=True),
            S(self, a("6.3"), "ns3.slow.bad.", [slow, warmslow], slow_behaviour),
            S(self, a("7.1"), "ns1.silent.bad.", [silent], silent=True),
            S(self, a("7.2"), "ns2.silent.bad.", [silent], silent=True),
            S(self, a("9.1"), "ns1.victim.", [victim]),
        ]

    # -- lifecycle

    def _bind_all(self):
        try:
            for s in self.servers:
                s.bind()
        except OSError:
            for s in self.servers:
                s.close()
            raise

    def start(self):
        candidates = [self.prefix] if self.prefix else PREFIX_CANDIDATES
        last = None
        for p in candidates:
            self.prefix = p
            self._build()
            try:
                self._bind_all()
                break
            except OSError as e:
                last = e
        else:
            raise RuntimeError("fakeauth: no free prefix among %s (%s)" % (candidates, last))
        self.dir = tempfile.mkdtemp(prefix="fakeauth-")
        self.hints = os.path.join(self.dir, "root.hints")
        with open(self.hints, "w") as f:
            f.write("; fakeauth root hints\n"
                    ".                      3600000 NS a.root-servers.fake.\n"
                    "a.root-servers.fake.   3600000 A  %s\n" % self.a("0.1"))
        for s in self.servers:
            s.start()
        return self

    def stop(self):
        self.stopping.set()
        with self.lock:
            timers, self.timers = self.timers, []
        for t in timers:
            t.cancel()
        for s in self.servers:
            s.close()
        for s in self.servers:
            s.join()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _later(self, delay, fn):
        t = threading.Timer(delay, fn)
        t.daemon = True
        with self.lock:
            self.timers = [x for x in self.timers if x.is_alive()]
            self.timers.append(t)
        t.start()

    # -- what the servers were asked

    def _record(self, srv, q, proto):
        qu = q.question[0]
        with self.lock:
            self.queries.append(Query(srv.name, qu.name.to_text().lower(),
                                      dns.rdatatype.to_text(qu.rdtype), proto))

    def reset(self):
        with self.lock:
            self.queries = []

    def asked(self):
        with self.lock:
            return list(self.queries)

    def count(self, qname=None, qtype=None, server=None, proto=None, under=None):
        """Queries received matching every given filter; names absolute or not, any case;
        @under counts @qname's subtree, @server is a server's name (ns1.bad.)."""
        def absn(n):
            return n.lower().rstrip(".") + "."
        n = 0
        for q in self.asked():
            if qname is not None and q.qname != absn(qname):
                continue
            if under is not None and not N(q.qname).is_subdomain(N(absn(under))):
                continue
            if qtype is not None and q.qtype != qtype:
                continue
            if server is not None and q.server != absn(server):
                continue
            if proto is not None and q.proto != proto:
                continue
            n += 1
        return n
