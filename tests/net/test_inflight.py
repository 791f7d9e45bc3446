"""Concurrent cold resolutions share identical upstream queries in flight
(issue 6): questions under the same zones, asked at once on an empty cache, send
each minimised probe and each question to a server once, not once per
resolution, and every client still gets its answer."""

import collections
import concurrent.futures

import dns.rcode

ZONES = ["zone%03d.test" % i for i in range(101, 109)]
QUESTIONS = [(h + z, t) for z in ZONES for h, t in (("www.", "A"), ("www.", "AAAA"), ("mail.", "A"),
                                                     ("", "MX"))]


def test_identical_queries_in_flight_are_sent_once(ternd, capture, simnet):
    t = ternd()
    capture.clear()
    with concurrent.futures.ThreadPoolExecutor(len(QUESTIONS)) as pool:
        replies = list(pool.map(lambda q: t.query(*q), QUESTIONS))
    for (name, rdtype), r in zip(QUESTIONS, replies):
        assert r.rcode() == dns.rcode.NOERROR, (name, rdtype)
        got = {rd.to_text() for rrset in r.answer for rd in rrset}
        assert got == simnet.expected(name, rdtype), (name, rdtype)
    sent = collections.Counter((q.dst, q.qname, q.qtype) for q in capture.queries)
    assert [k for k, n in sent.items() if n > 1] == []
    t.stop()
