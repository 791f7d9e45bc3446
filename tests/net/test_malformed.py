"""Hostile client input against ternd, over real UDP and TCP sockets.

What each case expects (RFC 1035 4.1.1, RFC 6891, RFC 7766, RFC 8914):

- fewer than 12 bytes, or QR=1 (a response sent to us): no reply at all (there
  is no header to answer / answering responses makes reflection loops);
- a header that parses but a message that does not (compression loop, forward
  pointer, label over 63, name over 255, QDCOUNT 0 or 2, records in answer or
  authority, two OPTs, OPT outside the additional section or not owned by the
  root, bad OPT options, trailing bytes, RDLENGTH past the end, a question cut
  short): FORMERR with the query's ID and opcode, header only. RFC 1035 allows
  dropping too; ternd answers, and these tests hold it to that;
- EDNS version 1: BADVERS (extended RCODE 16) with an OPT (RFC 6891 6.1.3);
- opcodes other than QUERY: NOTIMP, with the opcode copied (RFC 1035 4.1.1);
- class CH or ANY, AXFR, IXFR: REFUSED;
- a client outside --allow: REFUSED with EDE 18 (Prohibited);
- UDP replies fit the client's EDNS size, values below 512 count as 512
  (RFC 6891 6.2.5), else TC=1;
- TCP: a length below 12 closes the connection; a silent or half-sent
  connection is closed at --tcp-idle-timeout; pipelined queries are all
  answered (any order); a query in 1-byte writes is answered;
  --tcp-connections-max is enforced and frees up.

After every case ternd must still be running and still answer a normal query.
"""

import random
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.update
import pytest

NAME = "www.zone001.test"   # a normal name of the simnet, for "still answers"
IDLE_MS = 1000              # --tcp-idle-timeout for the TCP tests
EDE_PROHIBITED = 18
EDE_NOT_SUPPORTED = 21


# ---------------------------------------------------------------------------
# Raw messages.

def hdr(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def wname(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


QUESTION = wname(NAME) + struct.pack("!HH", 1, 1)
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)          # root owner, no options
A_RR = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([10, 9, 9, 9])


def formerr_cases(qid):
    """(what, wire): messages with a header that must get FORMERR."""
    long_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(5)) + b"\x00"   # 321 bytes
    return [
        ("question name is a pointer to itself", hdr(qid) + b"\xc0\x0c" + b"\x00\x01\x00\x01"),
        ("pointer loop of two", hdr(qid) + b"\x01a\xc0\x0e" + b"\x00\x01\x00\x01"),
        ("question name points forward (to the OPT owner)",
         hdr(qid, ar=1) + b"\xc0\x12" + b"\x00\x01\x00\x01" + OPT),
        ("label length 64", hdr(qid) + bytes([64]) + b"a" * 64 + b"\x00\x00\x01\x00\x01"),
        ("label type 0x80", hdr(qid) + b"\x81a\x00\x00\x01\x00\x01"),
        ("name of 321 bytes", hdr(qid) + long_name + b"\x00\x01\x00\x01"),
        ("QDCOUNT 0", hdr(qid, qd=0)),
        ("QDCOUNT 0 with an OPT", hdr(qid, qd=0, ar=1) + OPT),
        ("QDCOUNT 2", hdr(qid, qd=2) + QUESTION + QUESTION),
        ("QDCOUNT 1, no question", hdr(qid)),
        ("question without type and class", hdr(qid) + wname(NAME)),
        ("ANCOUNT 1 in a query", hdr(qid, an=1) + QUESTION + A_RR),
        ("NSCOUNT 1 in a query", hdr(qid, ns=1) + QUESTION + A_RR),
        ("two OPT records", hdr(qid, ar=2) + QUESTION + OPT + OPT),
        ("OPT in the answer section", hdr(qid, an=1) + QUESTION + OPT),
        ("OPT in the authority section", hdr(qid, ns=1) + QUESTION + OPT),
        ("OPT owned by www.", hdr(qid, ar=1) + QUESTION + wname("www") + OPT[1:]),
        ("OPT option longer than the RDATA",
         hdr(qid, ar=1) + QUESTION + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 6)
         + struct.pack("!HH", 10, 40) + b"\x00\x00"),
        ("trailing garbage after the question", hdr(qid) + QUESTION + b"\xde\xad\xbe\xef"),
        ("ARCOUNT 1 and nothing there", hdr(qid, ar=1) + QUESTION),
        ("RDLENGTH past the end",
         hdr(qid, ar=1) + QUESTION + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 100)),
        ("record cut in its fixed part", hdr(qid, ar=1) + QUESTION + OPT[:6]),
    ]


def udp_ask(t, wire, timeout=2.0):
    """Send @wire, return the first reply (bytes) or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, (t.addr, t.port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def udp_silence(t, wires):
    """Send each of @wires, then a normal query; return the replies that came
    for anything but the normal query (ternd answers in order on one thread)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for w in wires:
            s.sendto(w, (t.addr, t.port))
        sentinel = dns.message.make_query(NAME, "A")
        s.sendto(sentinel.to_wire(), (t.addr, t.port))
        t.note(NAME)
        others = []
        while True:
            w = s.recv(65535)
            if len(w) >= 2 and w[:2] == struct.pack("!H", sentinel.id) and len(w) > 12:
                try:
                    if dns.message.from_wire(w).question == sentinel.question:
                        break
                except Exception:
                    pass
            others.append(w)
        s.settimeout(0.2)
        try:
            while True:
                others.append(s.recv(65535))
        except socket.timeout:
            pass
        return others


def tcp_connect(t, timeout=3.0):
    s = socket.create_connection((t.addr, t.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def _recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        s.settimeout(max(0.001, deadline - time.monotonic()))
        d = s.recv(n - len(buf))     # never more than this message: the next stays queued
        if not d:
            return b""
        buf += d
    return buf


def tcp_recv_msg(s, timeout=3.0):
    """One length-prefixed message, b"" if the connection closed, None on timeout."""
    deadline = time.monotonic() + timeout
    try:
        prefix = _recv_exact(s, 2, deadline)
        if not prefix:
            return b""
        return _recv_exact(s, struct.unpack("!H", prefix)[0], deadline)
    except socket.timeout:
        return None
    except ConnectionResetError:
        return b""


def tcp_ask(t, wire, timeout=3.0):
    with tcp_connect(t) as s:
        s.sendall(frame(wire))
        return tcp_recv_msg(s, timeout)


def closed_after(s, limit):
    """Seconds until the peer closes @s (reading and dropping data), or None within @limit."""
    t0 = time.monotonic()
    s.settimeout(0.05)
    while time.monotonic() - t0 < limit:
        try:
            if not s.recv(65535):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def assert_alive(t, simnet, tcp=False):
    assert t.proc.poll() is None, "ternd exited with %s\n%s" % (t.proc.returncode,
                                                               t.stderr_text())
    r = t.query(NAME, "A", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR, r
    got = {rd.to_text() for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset}
    assert got == simnet.expected(NAME, "A"), r


def parse(wire):
    return dns.message.from_wire(wire, ignore_trailing=True)


def ede_codes(msg):
    return [o.code for o in msg.options if o.otype == dns.edns.EDE]


# ---------------------------------------------------------------------------
# No reply.

def test_short_header_gets_no_reply(ternd, simnet):
    t = ternd()
    assert_alive(t, simnet)   # and the sentinel's answer is cached from here on
    rng = random.Random(12)
    wires = [bytes(rng.getrandbits(8) & 0x7f if i == 2 else rng.getrandbits(8)
                   for i in range(n)) for n in range(0, 12)]
    wires += [hdr(0x1234)[:n] for n in range(0, 12)]
    assert udp_silence(t, wires) == []
    assert_alive(t, simnet)


def test_response_sent_to_us_gets_no_reply(ternd, simnet):
    t = ternd()
    assert_alive(t, simnet)
    q = dns.message.make_query(NAME, "A")
    q.flags |= dns.flags.QR
    r = dns.message.make_response(dns.message.make_query(NAME, "A"))
    r.flags |= dns.flags.RA
    bad = [q.to_wire(), r.to_wire(), hdr(7, flags=0x8000, qd=0),
           hdr(8, flags=0x8100) + b"\xc0\x0c\x00\x01\x00\x01"]   # QR=1 and malformed: still silent
    assert udp_silence(t, bad) == []
    assert_alive(t, simnet)
    # over TCP: no reply, and the connection still serves the next query
    with tcp_connect(t) as s:
        s.sendall(frame(q.to_wire()))
        assert tcp_recv_msg(s, timeout=0.5) is None
        ok = dns.message.make_query(NAME, "A")
        s.sendall(frame(ok.to_wire()))
        reply = tcp_recv_msg(s)
        assert reply and parse(reply).id == ok.id
    assert_alive(t, simnet, tcp=True)


def test_responses_on_tcp_do_not_wedge_the_connection(ternd, simnet):
    t = ternd("--tcp-idle-timeout", str(IDLE_MS))
    q = dns.message.make_query(NAME, "A")
    q.flags |= dns.flags.QR
    # 64 responses (the pipeline limit), then a query: it must be answered
    with tcp_connect(t) as s:
        s.sendall(frame(q.to_wire()) * 64)
        ok = dns.message.make_query(NAME, "A")
        s.sendall(frame(ok.to_wire()))
        t.note(NAME)
        reply = tcp_recv_msg(s, timeout=2)
        assert reply, "no answer on a connection after 64 responses were sent on it"
    # one response, then nothing: closed at the idle timeout like any idle connection
    with tcp_connect(t) as s:
        s.sendall(frame(q.to_wire()))
        took = closed_after(s, 4 * IDLE_MS / 1000)
        assert took is not None, "not closed within %d ms" % (4 * IDLE_MS)
    assert_alive(t, simnet)


# ---------------------------------------------------------------------------
# FORMERR.

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_malformed_queries_get_formerr(ternd, simnet, tcp):
    t = ternd()
    for i, (what, wire) in enumerate(formerr_cases(0)):
        qid = 0x4000 + i
        wire = struct.pack("!H", qid) + wire[2:]
        reply = tcp_ask(t, wire) if tcp else udp_ask(t, wire)
        assert reply, "%s: no reply" % what
        assert len(reply) >= 12, "%s: %r" % (what, reply)
        rid, flags = struct.unpack("!HH", reply[:4])
        assert rid == qid, "%s: ID %d, expected %d" % (what, rid, qid)
        assert flags & 0x8000, "%s: QR clear" % what
        assert (flags >> 11) & 0xf == 0, "%s: opcode changed" % what
        assert flags & 0xf == dns.rcode.FORMERR, "%s: rcode %d" % (what, flags & 0xf)
        assert_alive(t, simnet, tcp=tcp)


def test_formerr_keeps_the_tcp_connection_usable(ternd, simnet):
    t = ternd()
    biggest = hdr(98) + QUESTION
    biggest += b"\x00" * (65535 - len(biggest))          # a 64 KiB message: trailing zeros
    with tcp_connect(t) as s:
        for qid, wire in ((99, hdr(99, qd=2) + QUESTION + QUESTION), (98, biggest)):
            s.sendall(frame(wire))
            reply = tcp_recv_msg(s)
            assert reply and struct.unpack("!H", reply[:2])[0] == qid
            assert struct.unpack("!H", reply[2:4])[0] & 0xf == dns.rcode.FORMERR
            ok = dns.message.make_query(NAME, "A")
            t.note(NAME)
            s.sendall(frame(ok.to_wire()))
            reply = tcp_recv_msg(s)
            assert reply and parse(reply).id == ok.id


# ---------------------------------------------------------------------------
# EDNS version, opcodes, classes, types.

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_edns_version_1_gets_badvers(ternd, simnet, tcp):
    t = ternd()
    q = dns.message.make_query(NAME, "A")
    q.use_edns(edns=1, payload=1232)    # (make_query(use_edns=1) means version 0)
    t.note(NAME)
    reply = tcp_ask(t, q.to_wire()) if tcp else udp_ask(t, q.to_wire())
    r = parse(reply)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.BADVERS, r
    assert r.edns >= 0, "BADVERS needs an OPT record to carry it"
    assert r.edns == 0, "the reply's EDNS version is the highest ternd implements"
    assert not r.answer
    assert_alive(t, simnet, tcp=tcp)


@pytest.mark.parametrize("opcode", [1, 2, 3, 4, 6, 15])
def test_other_opcodes_get_notimp(ternd, simnet, opcode):
    t = ternd()
    q = dns.message.make_query(NAME, "SOA")
    t.note(NAME)
    q.set_opcode(opcode)
    # Raw header checks: dnspython cannot parse replies with unassigned opcodes.
    wire = udp_ask(t, q.to_wire())
    assert wire is not None and len(wire) >= 12
    assert int.from_bytes(wire[0:2], "big") == q.id
    assert wire[2] & 0x80, "QR must be set"
    assert (wire[2] >> 3) & 0xf == opcode, "RFC 1035 4.1.1: the opcode is copied"
    assert wire[3] & 0xf == dns.rcode.NOTIMP
    assert int.from_bytes(wire[6:8], "big") == 0, "no answer records"
    assert_alive(t, simnet)


@pytest.mark.parametrize("opcode", [dns.opcode.STATUS, dns.opcode.UPDATE])
def test_notimp_copies_the_opcode(ternd, simnet, opcode):
    t = ternd()
    q = dns.message.make_query("zone001.test", "SOA")
    q.set_opcode(opcode)
    r = parse(udp_ask(t, q.to_wire()))
    assert r.rcode() == dns.rcode.NOTIMP, r
    assert r.opcode() == opcode, "reply opcode %s to a query with opcode %s" % (
        dns.opcode.to_text(r.opcode()), dns.opcode.to_text(opcode))


def test_empty_update_gets_notimp(ternd, simnet):
    t = ternd()
    u = dns.update.UpdateMessage("zone001.test")
    r = parse(udp_ask(t, u.to_wire()))
    assert r.id == u.id
    assert r.rcode() == dns.rcode.NOTIMP, r
    assert_alive(t, simnet)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_update_with_records_gets_notimp(ternd, simnet, tcp):
    t = ternd()
    u = dns.update.UpdateMessage("zone001.test")
    u.add("x", 300, "A", "10.9.9.9")
    u.present("www")
    reply = tcp_ask(t, u.to_wire()) if tcp else udp_ask(t, u.to_wire())
    assert reply and struct.unpack("!H", reply[:2])[0] == u.id
    assert struct.unpack("!H", reply[2:4])[0] & 0xf == dns.rcode.NOTIMP, parse(reply)


@pytest.mark.parametrize("rdclass", ["CH", "HS", "ANY", "NONE"])
def test_classes_other_than_in_are_refused(ternd, simnet, rdclass):
    t = ternd()
    name = "version.bind" if rdclass == "CH" else NAME
    q = dns.message.make_query(name, "TXT", rdclass=rdclass, use_edns=0)
    t.note(name)
    for tcp in (False, True):
        reply = tcp_ask(t, q.to_wire()) if tcp else udp_ask(t, q.to_wire())
        r = parse(reply)
        assert r.id == q.id
        assert r.rcode() == dns.rcode.REFUSED, r
        assert not r.answer
        assert EDE_NOT_SUPPORTED in ede_codes(r), r
    assert_alive(t, simnet)


@pytest.mark.parametrize("rdtype", [0, "OPT"])
def test_qtype_zero_and_opt_are_refused(ternd, simnet, rdtype):
    t = ternd()
    q = dns.message.make_query("zone001.test", rdtype)
    t.note("zone001.test")
    r = parse(udp_ask(t, q.to_wire()))
    assert r.id == q.id
    assert r.rcode() == dns.rcode.REFUSED, r
    assert_alive(t, simnet)


def test_any_for_a_name_with_data_is_not_empty(ternd, simnet):
    t = ternd()
    r = t.query("zone001.test", "ANY")
    assert r.rcode() == dns.rcode.NOERROR, r
    # RFC 8482 4: a subset of the name's RRsets (or a synthesized HINFO), never nothing
    assert r.answer, "NOERROR with no records claims zone001.test has no data at all\n%s" % r


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_zone_transfers_are_refused(ternd, simnet, rdtype):
    t = ternd()
    q = dns.message.make_query("zone001.test", rdtype)
    t.note("zone001.test")
    for tcp in (False, True):
        reply = tcp_ask(t, q.to_wire()) if tcp else udp_ask(t, q.to_wire())
        r = parse(reply)
        assert r.id == q.id
        assert r.rcode() == dns.rcode.REFUSED, r
        assert not r.answer
    assert_alive(t, simnet)


def test_client_outside_the_acl_is_refused_with_ede_prohibited(ternd, simnet):
    t = ternd("--allow", "10.0.0.0/8")
    for tcp in (False, True):
        r = t.query(NAME, "A", tcp=tcp, use_edns=0)
        assert r.rcode() == dns.rcode.REFUSED, r
        assert not r.answer
        assert EDE_PROHIBITED in ede_codes(r), r
        assert t.proc.poll() is None


# ---------------------------------------------------------------------------
# UDP sizes.

def test_udp_reply_fits_the_client_buffer(ternd, simnet):
    t = ternd()
    # big.test A (1.6 kB) with 512: TC, nothing partial, within 512
    for payload, use_edns in ((512, 0), (512, -1)):
        q = dns.message.make_query("big.test", "A", use_edns=use_edns, payload=payload)
        t.note("big.test")
        w = udp_ask(t, q.to_wire(), timeout=5)
        r = parse(w)
        assert r.flags & dns.flags.TC, r
        assert len(w) <= 512
        assert (r.edns >= 0) == (use_edns >= 0)
    # medium.big.test (about 700 bytes): TC with 512, whole with 1232
    q = dns.message.make_query("medium.big.test", "A", use_edns=0, payload=512)
    t.note("medium.big.test")
    w = udp_ask(t, q.to_wire(), timeout=5)
    assert parse(w).flags & dns.flags.TC and len(w) <= 512
    r = t.query("medium.big.test", "A", payload=1232)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == 40
    # bufsize 100 counts as 512: a 106-byte answer comes whole
    q = dns.message.make_query("zone001.test", "MX", use_edns=0, payload=100)
    t.note("zone001.test")
    w = udp_ask(t, q.to_wire(), timeout=5)
    r = parse(w)
    assert not r.flags & dns.flags.TC, r
    assert 100 < len(w) <= 512
    got = {rd.to_text() for rrset in r.answer for rd in rrset}
    assert got == simnet.expected("zone001.test", "MX")
    assert_alive(t, simnet)


# ---------------------------------------------------------------------------
# TCP.

def test_tcp_length_prefix_that_lies_is_closed_at_idle_timeout(ternd, simnet):
    t = ternd("--tcp-idle-timeout", str(IDLE_MS))
    with tcp_connect(t) as s:
        s.sendall(struct.pack("!H", 500) + dns.message.make_query(NAME, "A").to_wire()[:20])
        t0 = time.monotonic()
        # meanwhile ternd serves others, on UDP and on other connections
        assert_alive(t, simnet)
        assert_alive(t, simnet, tcp=True)
        assert closed_after(s, 4 * IDLE_MS / 1000) is not None, \
            "still open after %d ms" % (4 * IDLE_MS)
        took = time.monotonic() - t0
        assert took >= IDLE_MS / 1000 * 0.8, "closed after %.2f s, before the idle timeout" % took
    assert_alive(t, simnet)


@pytest.mark.parametrize("length", [0, 1, 11])
def test_tcp_length_below_header_closes(ternd, simnet, length):
    t = ternd("--tcp-idle-timeout", str(IDLE_MS * 10))
    with tcp_connect(t) as s:
        s.sendall(struct.pack("!H", length) + b"\x00" * length)
        took = closed_after(s, 2)
        assert took is not None and took < 1, "not closed at once (%s)" % took
    assert_alive(t, simnet, tcp=True)


def test_tcp_silent_client_is_closed_at_idle_timeout(ternd, simnet):
    t = ternd("--tcp-idle-timeout", str(IDLE_MS))
    with tcp_connect(t) as s:
        took = closed_after(s, 4 * IDLE_MS / 1000)
        assert took is not None, "still open after %d ms" % (4 * IDLE_MS)
        assert took >= IDLE_MS / 1000 * 0.8, "closed after %.2f s" % took
    # a connection that was used is closed one idle timeout after its last answer
    with tcp_connect(t) as s:
        q = dns.message.make_query(NAME, "A")
        t.note(NAME)
        s.sendall(frame(q.to_wire()))
        assert tcp_recv_msg(s)
        took = closed_after(s, 4 * IDLE_MS / 1000)
        assert took is not None and took >= IDLE_MS / 1000 * 0.5, took
    assert_alive(t, simnet)


def test_tcp_pipelined_queries_all_answered(ternd, simnet):
    t = ternd()
    names = ["www.zone%03d.test" % n for n in range(1, 11)]
    t.note(*names)
    qs = [dns.message.make_query(n, "A") for n in names]
    for i, q in enumerate(qs):
        q.id = 1000 + i
    with tcp_connect(t) as s:
        s.sendall(b"".join(frame(q.to_wire()) for q in qs))
        got = {}
        for _ in qs:
            w = tcp_recv_msg(s, timeout=5)
            assert w, "connection ended after %d answers" % len(got)
            r = parse(w)
            got[r.id] = r
    assert set(got) == {q.id for q in qs}
    for q in qs:
        r = got[q.id]
        name = q.question[0].name.to_text().rstrip(".")
        assert r.question == q.question
        assert {rd.to_text() for rrset in r.answer for rd in rrset} == simnet.expected(name, "A")
    # more than ternd keeps in flight per connection (64): back-pressure, not loss
    qs = [dns.message.make_query(names[i % 10], "A") for i in range(200)]
    for i, q in enumerate(qs):
        q.id = 2000 + i
    with tcp_connect(t) as s:
        s.sendall(b"".join(frame(q.to_wire()) for q in qs))
        ids = set()
        for _ in qs:
            w = tcp_recv_msg(s, timeout=5)
            assert w, "connection ended after %d answers" % len(ids)
            ids.add(parse(w).id)
    assert ids == {q.id for q in qs}


def test_tcp_query_in_one_byte_writes(ternd, simnet):
    t = ternd()
    q = dns.message.make_query(NAME, "A")
    t.note(NAME)
    with tcp_connect(t) as s:
        for b in frame(q.to_wire()):
            s.send(bytes([b]))
            time.sleep(0.002)
        w = tcp_recv_msg(s)
    r = parse(w)
    assert r.id == q.id and r.rcode() == dns.rcode.NOERROR
    assert {rd.to_text() for rrset in r.answer for rd in rrset} == simnet.expected(NAME, "A")


def test_tcp_connections_max(ternd, simnet):
    t = ternd("--tcp-connections-max", "5")
    assert_alive(t, simnet)    # cached from here on
    socks = [tcp_connect(t) for _ in range(10)]
    try:
        time.sleep(0.2)
        served = 0
        for s in socks:
            q = dns.message.make_query(NAME, "A")
            try:
                s.sendall(frame(q.to_wire()))
            except OSError:
                continue
            w = tcp_recv_msg(s, timeout=1)
            if w:
                assert parse(w).id == q.id
                served += 1
        assert 1 <= served <= 5, "%d of 10 connections served with a maximum of 5" % served
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    for _ in range(3):
        socks = [tcp_connect(t) for _ in range(5)]
        try:
            for s in socks:
                q = dns.message.make_query(NAME, "A")
                s.sendall(frame(q.to_wire()))
                w = tcp_recv_msg(s)
                assert w and parse(w).id == q.id, "a connection below the maximum not served"
        finally:
            for s in socks:
                s.close()
        time.sleep(0.3)
    assert_alive(t, simnet, tcp=True)


# ---------------------------------------------------------------------------
# Random garbage.

def test_random_garbage_does_not_hurt(ternd, simnet):
    t = ternd("--tcp-idle-timeout", str(IDLE_MS))
    assert_alive(t, simnet)
    rng = random.Random(53)
    base = [dns.message.make_query(n, ty, use_edns=e).to_wire()
            for n, ty, e in ((NAME, "A", 0), ("zone002.test", "MX", -1), ("no-such-tld", "TXT", 0))]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(200):
            if i % 2:
                w = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 600)))
            else:
                w = bytearray(rng.choice(base))
                for _ in range(rng.randint(1, 4)):
                    w[rng.randrange(len(w))] = rng.getrandbits(8)
                w = bytes(w)
            s.sendto(w, (t.addr, t.port))
            if i % 50 == 49:
                assert_alive(t, simnet)
    assert_alive(t, simnet)
    conns = []
    try:
        for i in range(50):
            c = tcp_connect(t)
            n = rng.randint(1, 300)
            if i % 2:
                data = bytes(rng.getrandbits(8) for _ in range(n))
            else:
                data = bytearray(frame(rng.choice(base)))
                for _ in range(rng.randint(1, 4)):
                    data[rng.randrange(len(data))] = rng.getrandbits(8)
                data = bytes(data)
            try:
                c.sendall(data)
            except OSError:
                pass
            if i % 3:
                c.close()
            else:
                conns.append(c)     # left open while others come
            if i % 10 == 9:
                assert_alive(t, simnet, tcp=True)
    finally:
        for c in conns:
            c.close()
    assert_alive(t, simnet)
    assert_alive(t, simnet, tcp=True)
