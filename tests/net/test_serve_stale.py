"""Serve-stale (RFC 8767): when every upstream fails, expired data within the
window is answered, with a short TTL and EDE 3 (Stale Answer), instead of
SERVFAIL; outside the window, or with serve-stale off, it is SERVFAIL."""

import time

import dns.edns
import dns.message
import dns.query
import dns.rcode

from fakeauth import FakeNet

NAME = "www.victim."
ADDR = "192.0.2.9"


def silence_everyone(net):
    for s in net.servers:
        s.behaviour = lambda server, query, proto: []


def ask(t, name):
    q = dns.message.make_query(name, "A", use_edns=0)
    return dns.query.udp(q, t.addr, port=t.port, timeout=8)


def ede_codes(msg):
    return [o.code for o in msg.options if o.otype == dns.edns.OptionType.EDE]


def test_expired_answer_is_served_when_every_server_is_silent(ternd):
    with FakeNet() as net:
        t = ternd("--ttl-max", "1", root_hints=net.hints)
        t.note(NAME)
        fresh = ask(t, NAME)
        assert fresh.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in fresh.answer[0]] == [ADDR]
        time.sleep(2.2)                       # the record (and the zone cut) expire
        silence_everyone(net)
        started = time.monotonic()
        stale = ask(t, NAME)
        assert time.monotonic() - started < 5.5, "stale data comes once resolution gives up"
        assert stale.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in stale.answer[0]] == [ADDR]
        assert 0 < stale.answer[0].ttl <= 30, "RFC 8767 4: a short TTL for stale data"
        assert 3 in ede_codes(stale), "EDE 3 (Stale Answer) tells the client"


def test_no_stale_answer_when_serve_stale_is_off(ternd):
    with FakeNet() as net:
        t = ternd("--ttl-max", "1", "--serve-stale", "0", root_hints=net.hints)
        t.note(NAME)
        assert ask(t, NAME).rcode() == dns.rcode.NOERROR
        time.sleep(2.2)
        silence_everyone(net)
        assert ask(t, NAME).rcode() == dns.rcode.SERVFAIL


def test_no_stale_answer_past_the_window(ternd):
    with FakeNet() as net:
        t = ternd("--ttl-max", "1", "--serve-stale", "1", root_hints=net.hints)
        t.note(NAME)
        assert ask(t, NAME).rcode() == dns.rcode.NOERROR
        time.sleep(3.2)                       # expired 2 s ago: outside a 1 s window
        silence_everyone(net)
        assert ask(t, NAME).rcode() == dns.rcode.SERVFAIL
