"""Stopping ternd: SIGTERM while queries wait on upstream answers them (SERVFAIL)
and exits cleanly; nothing is left half-closed."""

import socket
import threading
import time

import dns.message
import dns.query
import dns.rcode


def test_sigterm_with_queries_in_flight_answers_them_and_exits_zero(ternd):
    t = ternd()
    # www.blackhole-all.test: every server is silent, so the resolution is in
    # flight for seconds; SIGTERM arrives in the middle of it.
    replies = {}

    def ask(transport):
        q = dns.message.make_query("www.blackhole-all.test", "A")
        try:
            if transport == "udp":
                replies[transport] = dns.query.udp(q, t.addr, port=t.port, timeout=5)
            else:
                replies[transport] = dns.query.tcp(q, t.addr, port=t.port, timeout=5)
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            replies[transport] = e

    t.note("www.blackhole-all.test")
    threads = [threading.Thread(target=ask, args=(tr,)) for tr in ("udp", "tcp")]
    for th in threads:
        th.start()
    time.sleep(0.5)
    started = time.monotonic()
    code = t.stop()
    for th in threads:
        th.join(6)
    assert code == 0, "ternd must exit 0 on SIGTERM, got %r\n%s" % (code, t.stderr_text())
    assert time.monotonic() - started < 3, "stopping must not wait for upstream timeouts"
    for transport in ("udp", "tcp"):
        r = replies.get(transport)
        assert isinstance(r, dns.message.Message), "%s: no answer before exit: %r" % (transport, r)
        assert r.rcode() == dns.rcode.SERVFAIL


def test_port_is_free_again_after_exit(ternd):
    t = ternd()
    assert t.stop() == 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((t.addr, t.port))  # no SO_REUSEPORT here: fails if ternd left a socket open
    finally:
        s.close()
