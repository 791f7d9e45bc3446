"""Prefetch: a record still being asked for in the last tenth of its TTL is
refreshed in the background, so a popular name never misses."""

import time

import dns.rcode

NAME = "ttl5.ttl.test"   # TTL 5 s in the zone, raised to 10 s by --ttl-min


def upstream_for(cap, name):
    return [q for q in cap.queries if q.qname == name]


# The prefetch's own budget in ternd (PREFETCH_TIMEOUT_MS, 4.5 s) and a margin:
# the refresh is sent and stored well within it, however loaded the machine.
REFRESH_WITHIN_S = 6


def wait_for(what, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_hit_near_expiry_refreshes_in_background(ternd, capture):
    t = ternd("--ttl-min", "10", "--dnssec", "no")  # fewer sub-queries: less timing noise
    first = t.query(NAME, "A")
    assert first.rcode() == dns.rcode.NOERROR
    assert first.answer[0].ttl == 10
    start = time.monotonic()   # the record was stored before this: it expires within 10 s of it
    time.sleep(0.5)
    capture.clear()
    # Early in the TTL: a hit and nothing else.
    assert t.query(NAME, "A").rcode() == dns.rcode.NOERROR
    time.sleep(0.3)
    assert upstream_for(capture, NAME) == [], "no refresh while most of the TTL is left"
    # In the last tenth of the TTL (the last second of 10 s): a hit refreshes.
    while True:
        late = t.query(NAME, "A")
        assert late.rcode() == dns.rcode.NOERROR
        if late.answer[0].ttl <= 1:
            break
        assert time.monotonic() - start < 10, "the TTL must count down to 1"
        time.sleep(0.2)
    # The refresh goes upstream...
    assert wait_for(lambda: upstream_for(capture, NAME), REFRESH_WITHIN_S), \
        "a hit in the last tenth of the TTL must send a refresh upstream"
    # ...and its answer replaces the record: the name is served with a TTL
    # starting over, from the cache (no further query)
    capture.clear()
    fresh = wait_for(lambda: [r for r in [t.query(NAME, "A")]
                              if r.rcode() == dns.rcode.NOERROR and r.answer[0].ttl > 1],
                     REFRESH_WITHIN_S)
    assert fresh, "the refreshed record must be served"
    # After the original expiry the name is still a hit: no query upstream.
    time.sleep(max(0.0, 11.2 - (time.monotonic() - start)))
    after = t.query(NAME, "A")
    assert after.rcode() == dns.rcode.NOERROR
    assert after.answer[0].ttl >= 1
    time.sleep(0.2)
    if after.answer[0].ttl > 1:
        # (at 1, the refreshed record is in its own last tenth, and would
        # rightly be refreshed: only a machine stalled for seconds gets there)
        assert upstream_for(capture, NAME) == [], "a prefetched name must not miss"


def test_prefetch_can_be_turned_off(ternd, capture):
    t = ternd("--ttl-min", "10", "--prefetch", "no", "--dnssec", "no")
    assert t.query(NAME, "A").rcode() == dns.rcode.NOERROR
    start = time.monotonic()
    time.sleep(0.5)
    capture.clear()
    while True:
        late = t.query(NAME, "A")
        if late.answer[0].ttl <= 1:
            break
        assert time.monotonic() - start < 10
        time.sleep(0.2)
    time.sleep(0.5)
    assert upstream_for(capture, NAME) == []
