"""The cache as a file: it survives kill -9, two ternd processes on one cache
directory share what they learn, a damaged cache is replaced (never a crash),
and a full cache keeps the names that are asked for."""

import glob
import os
import time

import dns.message
import dns.query
import dns.rcode

SETTLE_S = 0.5


def upstream(cap, qname):
    return [q for q in cap.queries if q.qname == qname]


def test_cache_survives_kill_9(ternd, capture, tmp_path):
    cache_dir = str(tmp_path / "cache")
    first = ternd(cache_dir=cache_dir)
    names = ["www.zone031.test", "www.zone032.test", "zone033.test"]
    for n in names:
        assert first.query(n, "A").rcode() == dns.rcode.NOERROR
    time.sleep(SETTLE_S)
    first.crash()
    second = ternd(cache_dir=cache_dir)
    capture.clear()
    for n in names:
        r = second.query(n, "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer, n
    assert capture.queries == [], "what was cached before kill -9 must be answered at once"


def test_two_processes_share_one_cache(ternd, capture, tmp_path):
    cache_dir = str(tmp_path / "cache")
    a = ternd(cache_dir=cache_dir)
    b = ternd(cache_dir=cache_dir)
    assert a.port != b.port
    assert a.query("www.zone041.test", "A").rcode() == dns.rcode.NOERROR
    time.sleep(SETTLE_S)
    capture.clear()
    r = b.query("www.zone041.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    assert upstream(capture, "www.zone041.test") == [], "b must answer from what a learned"
    # and the other way round
    assert b.query("www.zone042.test", "MX").rcode() == dns.rcode.NOERROR
    time.sleep(SETTLE_S)
    capture.clear()
    assert a.query("www.zone042.test", "MX").rcode() == dns.rcode.NOERROR
    assert upstream(capture, "www.zone042.test") == []


def test_damaged_cache_files_are_replaced_not_trusted(ternd, tmp_path):
    cache_dir = str(tmp_path / "cache")
    first = ternd(cache_dir=cache_dir)
    assert first.query("www.zone051.test", "A").rcode() == dns.rcode.NOERROR
    time.sleep(SETTLE_S)
    assert first.stop() == 0
    files = glob.glob(os.path.join(cache_dir, "**", "*.mdb"), recursive=True)
    assert files, "the cache directory holds LMDB files"
    for path in files:
        with open(path, "r+b") as f:
            f.write(os.urandom(16384))      # the meta pages and then some
    second = ternd(cache_dir=cache_dir)
    r = second.query("www.zone051.test", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer, "a fresh cache, and resolution works"
    assert "cache" in second.stderr_text().lower(), "the damage is reported"


def test_full_cache_keeps_the_hot_names(ternd, capture, simnet):
    t = ternd("--cache-size", "1M")
    hot = ["www.zone%03d.test" % i for i in range(60, 70)]
    for n in hot:
        assert t.query(n, "A").rcode() == dns.rcode.NOERROR
    # thousands of cold negative answers, far more than 1 MiB holds
    for i in range(6000):
        q = dns.message.make_query("cold-%d.zone%03d.test" % (i, 1 + i % 200), "TXT")
        dns.query.udp(q, t.addr, port=t.port, timeout=5)
        if i % 100 == 0:
            for n in hot:
                t.query(n, "A")
    time.sleep(SETTLE_S)
    capture.clear()
    for n in hot:
        r = t.query(n, "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer
    assert [q for q in capture.queries if q.qname in hot] == [], \
        "names asked for all along must survive eviction"
    r = dns.query.udp(dns.message.make_query("cold-5999.zone200.test", "TXT"), t.addr,
                      port=t.port, timeout=5)
    assert r.rcode() == dns.rcode.NXDOMAIN, "and the resolver still works"
