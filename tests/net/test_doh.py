"""DNS over HTTPS (RFC 8484): ternd's https:// and http:// listeners with real
clients (curl, kdig +https, python3-h2): GET ?dns=, POST, the JSON form,
HTTP/2 and HTTP/1.1, statuses and headers, the bad requests, many streams in
parallel, a rapid-reset flood while another client is served, cleartext DoH
behind a proxy, and curl --doh-url fetching a page from a host name only
ternd can resolve."""

import base64
import http.server
import json
import struct
import socket
import subprocess
import threading
import time

import dns.edns
import dns.message
import dns.rcode
import pytest

from fakeauth import FakeNet
from tlsutil import H2Client, Pki, start_encrypted

PAD_BLOCK = 468


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def b64(wire):
    return base64.urlsafe_b64encode(wire).rstrip(b"=").decode()


def curl(t, path, *opts, http="--http2", port=None, scheme="https"):
    """curl against ternd; returns (status, headers dict, body bytes)."""
    port = port or (t.doh_port if scheme == "https" else t.http_port)
    url = "%s://localhost:%d%s" % (scheme, port, path)
    cmd = ["curl", "-s", "-S", "-D", "-", "-o", "-", "--max-time", "10", http,
           "--cacert", t.pki.ca, url] + list(opts)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def query_wire(t, name, rdtype="A", **kw):
    t.note(name)
    q = dns.message.make_query(name, rdtype, **kw)
    q.id = 0
    return q.to_wire()


@pytest.mark.parametrize("http", ["--http2", "--http1.1"])
def test_get_and_post(ternd, simnet, pki, http):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    wire = query_wire(t, "www.zone001.test")
    status, h, body = curl(t, "/dns-query?dns=" + b64(wire), http=http)
    assert status == 200
    assert h["content-type"] == "application/dns-message"
    assert h["cache-control"] == "max-age=3600"
    m = dns.message.from_wire(body)
    assert m.id == 0 and m.rcode() == dns.rcode.NOERROR
    assert {rd.to_text() for rs in m.answer for rd in rs} == simnet.expected("www.zone001.test", "A")
    wire = query_wire(t, "zone002.test", "MX")
    r = subprocess.run(["curl", "-s", "-D", "-", "-o", "-", http, "--cacert", pki.ca,
                        "-H", "content-type: application/dns-message", "--data-binary", "@-",
                        "https://localhost:%d/dns-query" % t.doh_port],
                       input=wire, stdout=subprocess.PIPE, timeout=30)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert b" 200" in head.split(b"\r\n")[0]
    assert b"application/dns-message" in head
    m = dns.message.from_wire(body)
    assert {rd.to_text() for rs in m.answer for rd in rs} == simnet.expected("zone002.test", "MX")


def test_negative_answer_max_age_from_soa(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    status, h, body = curl(t, "/dns-query?dns=" + b64(query_wire(t, "nx.zone003.test")))
    assert status == 200
    m = dns.message.from_wire(body)
    assert m.rcode() == dns.rcode.NXDOMAIN
    soa_ttl = min(rs.ttl for rs in m.authority)
    assert h["cache-control"] == "max-age=%d" % soa_ttl


def test_kdig_https_post_and_get_padded(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    for mode in ("+https", "+https-get"):
        t.note("www.zone005.test")
        r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(t.doh_port), mode,
                            "+tls-ca=" + pki.ca, "+tls-hostname=localhost", "www.zone005.test",
                            "A", "+timeout=5", "+retry=0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "status: 200" in r.stdout and "status: NOERROR" in r.stdout, r.stdout
        assert "10.1.0.5" in r.stdout
        assert "Received 468 B" in r.stdout, r.stdout   # kdig pads: so do we


def test_padding_when_asked(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    wire = query_wire(t, "www.zone001.test", use_edns=0,
                      options=[dns.edns.GenericOption(dns.edns.PADDING, b"")])
    status, h, body = curl(t, "/dns-query?dns=" + b64(wire))
    assert status == 200 and len(body) % PAD_BLOCK == 0
    status, h, body = curl(t, "/dns-query?dns=" + b64(query_wire(t, "www.zone001.test", use_edns=0)))
    assert len(body) % PAD_BLOCK != 0


@pytest.mark.parametrize("http", ["--http2", "--http1.1"])
def test_json(ternd, simnet, pki, http):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    t.note("www.zone004.test", "nx.zone004.test", "alias.zone004.test")
    status, h, body = curl(t, "/dns-query?name=www.zone004.test&type=AAAA", "-H",
                           "accept: application/dns-json", http=http)
    assert status == 200 and h["content-type"] == "application/dns-json"
    j = json.loads(body)
    assert j["Status"] == 0 and j["RD"] is True and j["RA"] is True and j["TC"] is False
    assert j["Question"] == [{"name": "www.zone004.test.", "type": 28}]
    assert {a["data"] for a in j["Answer"]} == simnet.expected("www.zone004.test", "AAAA")
    assert all(a["TTL"] == 3600 and a["type"] == 28 for a in j["Answer"])
    assert h["cache-control"] == "max-age=3600"
    # NXDOMAIN: Status 3 and the SOA in Authority; the type by number; a CNAME chain
    j = json.loads(curl(t, "/dns-query?name=nx.zone004.test&type=1", http=http)[2])
    assert j["Status"] == 3 and j["Authority"][0]["type"] == 6 and "Answer" not in j
    j = json.loads(curl(t, "/dns-query?name=alias.zone004.test", http=http)[2])
    assert [a["type"] for a in j["Answer"]][0] == 5
    # a wire query with accept: application/dns-json gets JSON too
    wire = query_wire(t, "www.zone004.test")
    status, h, body = curl(t, "/dns-query?dns=" + b64(wire), "-H", "accept: application/dns-json")
    assert json.loads(body)["Status"] == 0
    # bad JSON parameters
    assert curl(t, "/dns-query?name=&type=A")[0] == 400
    assert curl(t, "/dns-query?name=www.zone004.test&type=NOSUCHTYPE")[0] == 400


BAD = [
    # (method, path, headers, body, status)
    ("GET", "/other", [], None, 404),
    ("GET", "/dns-query-x?dns=AAAA", [], None, 404),
    ("PUT", "/dns-query", ["content-type: application/dns-message"], b"x" * 20, 405),
    ("DELETE", "/dns-query", [], None, 405),
    ("POST", "/dns-query", ["content-type: text/plain"], b"x" * 20, 415),
    ("POST", "/dns-query", [], b"x" * 20, 415),
    ("GET", "/dns-query", [], None, 400),
    ("GET", "/dns-query?dns=", [], None, 400),
    ("GET", "/dns-query?dns=!!!!not*base64", [], None, 400),
    ("GET", "/dns-query?dns=AAAAA", [], None, 400),         # 5 characters: no encoding has that
    ("GET", "/dns-query?dns=AAAA", [], None, 400),          # 3 bytes: shorter than a header
    ("POST", "/dns-query", ["content-type: application/dns-message"], b"\0" * 70000, 413),
    ("GET", "/dns-query?dns=" + "A" * 5000, [], None, 414),
]


@pytest.mark.parametrize("http", ["--http2", "--http1.1"])
def test_bad_requests(ternd, simnet, pki, http, tmp_path):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    for method, path, headers, body, want in BAD:
        opts = ["-X", method]
        for hd in headers:
            opts += ["-H", hd]
        if body is not None:
            f = tmp_path / "body"
            f.write_bytes(body)
            opts += ["--data-binary", "@%s" % f]
            if not any(hd.startswith("content-type") for hd in headers):
                opts += ["-H", "content-type:"]
        status, h, text = curl(t, path, *opts, http=http)
        assert status == want, (method, path, status, text)
        assert h["content-type"].startswith("text/plain") and len(text) < 200
    # and it still answers
    status, h, body = curl(t, "/dns-query?dns=" + b64(query_wire(t, "www.zone001.test")), http=http)
    assert status == 200


def test_http1_keepalive_and_pipelining(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    ctx = pki.client_context(["http/1.1"])
    with socket.create_connection(("127.0.0.1", t.doh_port), timeout=10) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        assert s.selected_alpn_protocol() == "http/1.1"
        names = ["www.zone%03d.test" % n for n in range(20, 40)] + ["www.slow.test"]
        names = ["www.slow.test"] + names
        reqs = b""
        for n in names:
            reqs += ("GET /dns-query?dns=%s HTTP/1.1\r\nHost: localhost\r\n\r\n"
                     % b64(query_wire(t, n))).encode()
        s.sendall(reqs)
        got = b""
        deadline = time.monotonic() + 10
        while got.count(b"HTTP/1.1 200") < len(names) and time.monotonic() < deadline:
            got += s.recv(65536)
        assert got.count(b"HTTP/1.1 200 OK") == len(names)
        # in request order: the slow one first
        bodies = []
        rest = got
        while rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            n = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0]
                    .split(b":")[1])
            bodies.append(rest[:n])
            rest = rest[n:]
        qnames = [dns.message.from_wire(b).question[0].name.to_text().rstrip(".") for b in bodies]
        assert qnames == names


def test_many_streams_in_parallel(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    c = H2Client(t.doh_port, pki)
    t.note("www.slow.test")
    slow = c.request("GET", "/dns-query?dns=" + b64(query_wire(t, "www.slow.test")))
    sids = []
    for n in range(100, 180):
        sids.append(c.request("GET", "/dns-query?dns=" + b64(query_wire(t, "www.zone%03d.test" % n))))
    c.flush()
    t0 = time.monotonic()
    rs = c.wait(sids)
    fast_done = time.monotonic() - t0
    assert all(r["status"] == 200 for r in rs), [r["status"] for r in rs]
    assert not c.responses[slow]["done"] or fast_done < 0.25
    c.wait([slow])
    assert c.responses[slow]["status"] == 200
    c.close()


def test_rapid_reset_flood(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    wire = query_wire(t, "www.zone001.test")
    good = H2Client(t.doh_port, pki)
    sid = good.request("GET", "/dns-query?dns=" + b64(wire))
    good.flush()
    assert good.wait([sid])[0]["status"] == 200

    flood = H2Client(t.doh_port, pki)
    sent = 0
    try:
        for _ in range(50):
            for _ in range(100):
                s = flood.request("GET", "/dns-query?dns=" + b64(wire))
                flood.conn.reset_stream(s)
                sent += 1
            flood.flush()
    except OSError:
        pass     # closed under us: that is the point
    flood.pump(lambda: flood.closed, timeout=5)
    print("flood: %d streams sent, GOAWAY %s, closed %s" % (sent, flood.terminated, flood.closed))
    assert flood.closed or flood.terminated is not None
    assert flood.terminated in (None, 11), flood.terminated   # ENHANCE_YOUR_CALM
    flood.close()
    # the other client was never starved
    t0 = time.monotonic()
    sid = good.request("GET", "/dns-query?dns=" + b64(wire))
    good.flush()
    assert good.wait([sid], timeout=5)[0]["status"] == 200
    assert time.monotonic() - t0 < 1
    good.close()


def test_cleartext_behind_proxy(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=False, http=True, cert=False)
    wire = query_wire(t, "www.zone001.test")
    for http in ("--http2-prior-knowledge", "--http1.1"):
        status, h, body = curl(t, "/dns-query?dns=" + b64(wire), http=http, scheme="http")
        assert status == 200
        assert dns.message.from_wire(body).rcode() == dns.rcode.NOERROR
    # the proxy says the client is outside --allow: REFUSED
    status, h, body = curl(t, "/dns-query?dns=" + b64(wire), "-H",
                           "x-forwarded-for: 198.51.100.7", http="--http1.1", scheme="http")
    assert status == 200 and dns.message.from_wire(body).rcode() == dns.rcode.REFUSED


def test_cleartext_only_from_proxies(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, "--http-proxy", "192.0.2.1", dot=False, http=True, cert=False)
    r = subprocess.run(["curl", "-s", "--max-time", "5", "http://127.0.0.1:%d/dns-query?dns=%s"
                        % (t.http_port, b64(query_wire(t, "www.zone001.test")))],
                       stdout=subprocess.PIPE, timeout=30)
    assert r.returncode != 0 and r.stdout == b""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"served to a name only ternd knows\n"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_curl_doh_url_fetches_a_page(ternd, pki):
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Page)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        with FakeNet() as net:
            # a name under fakeauth's root that points at loopback
            for s in net.servers:
                for z in s.zones:
                    if z.origin.to_text() == "victim.":
                        z.add("web.victim.", "A", "127.0.0.1")
            t = start_encrypted(ternd, pki, dot=False, doh=True, root_hints=net.hints)
            t.note("web.victim")
            url = "http://web.victim:%d/page" % srv.server_address[1]
            r = subprocess.run(["curl", "-s", "-S", "--max-time", "10", "--doh-url",
                                "https://localhost:%d/dns-query" % t.doh_port,
                                "--cacert", pki.ca, url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            assert r.returncode == 0, r.stderr
            assert r.stdout == b"served to a name only ternd knows\n"
            assert net.count(qname="web.victim.") >= 1
    finally:
        srv.shutdown()


def proxy_v2(src, dst=None, sport=40000, dport=80, tlvs=b"", cmd=0x21):
    """A PROXY protocol v2 header (TCP over IPv4 or IPv6) from @src."""
    fam6 = ":" in src
    dst = dst or ("::1" if fam6 else "127.0.0.1")
    packed = (socket.inet_pton(socket.AF_INET6 if fam6 else socket.AF_INET, src)
              + socket.inet_pton(socket.AF_INET6 if fam6 else socket.AF_INET, dst)
              + struct.pack("!HH", sport, dport))
    body = packed + tlvs
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([cmd, 0x21 if fam6 else 0x11])
            + struct.pack("!H", len(body)) + body)


def http1_over(port, prefix, wire, timeout=5):
    """@prefix, then a GET over HTTP/1.1 on a new connection; the DNS reply, or
    None when the connection is closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(prefix + ("GET /dns-query?dns=%s HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n" % b64(wire)).encode())
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
    if not got:
        return None
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return dns.message.from_wire(body)


@pytest.mark.parametrize("required", [False, True])
def test_proxy_protocol_v2(ternd, simnet, pki, required):
    extra = ["--http-proxy-protocol", "yes"] if required else []
    t = start_encrypted(ternd, pki, *extra, dot=False, http=True, cert=False)
    wire = query_wire(t, "www.zone001.test")
    tlvs = b"\x01\x00\x02h2" + b"\xe0\x00\x00"    # ALPN and an empty custom TLV: skipped
    # the client per the header is outside --allow: REFUSED, whatever X-Forwarded-For says
    m = http1_over(t.http_port, proxy_v2("198.51.100.7", tlvs=tlvs), wire)
    assert m.rcode() == dns.rcode.REFUSED
    # inside: an answer (IPv4 and IPv6 sources)
    for src in ("127.0.0.9", "::1"):
        m = http1_over(t.http_port, proxy_v2(src), wire)
        assert m.rcode() == dns.rcode.NOERROR and m.answer
    # LOCAL (a health check): the proxy's own address, loopback, allowed
    m = http1_over(t.http_port, proxy_v2("198.51.100.7", cmd=0x20), wire)
    assert m.rcode() == dns.rcode.NOERROR
    # HTTP/2 (h2c) after the header, through H2Client's raw socket
    c = H2Client(t.http_port, pki, tls=False, prefix=proxy_v2("198.51.100.7"))
    sid = c.request("GET", "/dns-query?dns=" + b64(wire))
    c.flush()
    r = c.wait([sid])[0]
    assert r["status"] == 200 and dns.message.from_wire(r["body"]).rcode() == dns.rcode.REFUSED
    c.close()
    # malformed (version 1 in the binary form; a TLV beyond the header): closed
    bad = proxy_v2("127.0.0.9")
    assert http1_over(t.http_port, bad[:12] + b"\x11" + bad[13:], wire) is None
    assert http1_over(t.http_port, proxy_v2("127.0.0.9", tlvs=b"\x01\x00\x09ab"), wire) is None
    # no header: closed when required, else plain HTTP as before
    m = http1_over(t.http_port, b"", wire)
    if required:
        assert m is None
    else:
        assert m.rcode() == dns.rcode.NOERROR


def h2_frame(ftype, flags, sid, payload=b""):
    return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack("!I", sid) + payload


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def raw_h2(t, pki):
    """A TLS connection with ALPN h2 that has sent the preface and an empty SETTINGS."""
    raw = socket.create_connection(("127.0.0.1", t.doh_port), timeout=10)
    s = pki.client_context(["h2"]).wrap_socket(raw, server_hostname="localhost")
    assert s.selected_alpn_protocol() == "h2"
    s.sendall(H2_PREFACE + h2_frame(4, 0, 0))
    return s


def read_frames(s, timeout=5):
    """Frames until the connection ends (or @timeout): a list of (type, payload);
    None at the end when the connection was not closed in time."""
    s.settimeout(0.5)
    buf, frames = b"", []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (OSError, ssl_error()):
            return frames
        if not chunk:
            return frames
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            frames.append((buf[3], buf[9:9 + n]))
            buf = buf[9 + n:]
    return frames + [None]


def ssl_error():
    import ssl
    return ssl.SSLError


@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_control_frame_flood(ternd, simnet, pki, kind):
    """PING or SETTINGS frames, each asking for an ACK, from a client that never
    reads: nghttp2's outbound-ACK limit (or the output cap) closes it, or TCP
    throttles it; another client keeps its answers within a second."""
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    wire = query_wire(t, "www.zone001.test")
    good = H2Client(t.doh_port, pki)

    def ask():
        t0 = time.monotonic()
        sid = good.request("GET", "/dns-query?dns=" + b64(wire))
        good.flush()
        assert good.wait([sid], timeout=5)[0]["status"] == 200
        return time.monotonic() - t0

    ask()
    if kind == "ping":
        one = h2_frame(6, 0, 0, b"floodfld")
    else:
        one = h2_frame(4, 0, 0, struct.pack("!HI", 2, 0))     # ENABLE_PUSH=0, to be ACKed
    batch = one * 2000
    flood = raw_h2(t, pki)
    flood.settimeout(0.5)
    sent, outcome, worst = 0, None, 0.0
    deadline = time.monotonic() + 8
    while outcome is None and time.monotonic() < deadline:
        try:
            flood.sendall(batch)
            sent += 2000
        except socket.timeout:
            outcome = "throttled"
        except (OSError, ssl_error()):
            outcome = "closed"
        worst = max(worst, ask())
    print("%s flood: %d frames sent, %s, slowest other answer %.3f s" % (kind, sent, outcome, worst))
    assert outcome is not None, "%d frames taken without a limit" % sent
    assert worst < 1
    if outcome == "throttled":
        # not read any more: the server has stopped taking its frames, and will close
        # it once its output is over the cap; the other client is still served
        assert ask() < 1
    flood.close()
    assert ask() < 1
    good.close()


def test_too_many_settings_in_one_frame(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, dot=False, doh=True)
    s = raw_h2(t, pki)
    s.sendall(h2_frame(4, 0, 0, struct.pack("!HI", 3, 100) * 40))   # over max_settings (32)
    frames = read_frames(s)
    assert frames and frames[-1] is not None, "not closed"
    assert any(f[0] == 7 for f in frames)      # GOAWAY
    s.close()


def test_connection_cap(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, "--tcp-connections-max", "3", dot=False, doh=True)
    wire = query_wire(t, "www.zone001.test")

    def works(c):
        sid = c.request("GET", "/dns-query?dns=" + b64(wire))
        c.flush()
        return c.wait([sid], timeout=5)[0]["status"] == 200

    held = [H2Client(t.doh_port, pki) for _ in range(3)]
    assert all(works(c) for c in held)
    def fourth():
        try:
            extra = H2Client(t.doh_port, pki, timeout=3)
        except (ssl_error(), OSError, AssertionError):
            return False
        ok = works(extra)
        extra.close()
        return ok

    assert not fourth()     # over the cap: closed (at the handshake or before an answer)
    assert works(held[0])
    for c in held:
        c.close()
    time.sleep(0.2)
    c = H2Client(t.doh_port, pki)
    assert works(c)
    c.close()


def test_counters_logged_when_the_worker_stops(ternd, simnet, pki):
    import re
    import ssl
    from tlsutil import DotClient
    t = start_encrypted(ternd, pki, dot=True, doh=True)
    wire = query_wire(t, "www.zone001.test")
    # DoT: 2 queries on a full handshake (TLS 1.2), 1 on a resumed one
    ctx = pki.client_context(["dot"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = DotClient(t.dot_port, pki, ctx=ctx)
    for _ in range(2):
        c.send(wire)
        c.recv()
    session = c.sock.session
    c.close()
    c = DotClient(t.dot_port, pki, ctx=ctx, session=session)
    assert c.sock.session_reused
    c.send(wire)
    c.recv()
    c.close()
    # DoH: one query, a 404, two 400s, a 415; each curl a full handshake
    assert curl(t, "/dns-query?dns=" + b64(wire))[0] == 200
    assert curl(t, "/other")[0] == 404
    assert curl(t, "/dns-query?dns=AAAA")[0] == 400
    assert curl(t, "/dns-query", http="--http1.1")[0] == 400
    assert curl(t, "/dns-query", "--data-binary", "xxxxxxxxxxxxxxxx", "-H", "content-type: text/plain")[0] == 415
    assert t.stop() == 0
    lines = [ln for ln in t.stderr_text().splitlines() if "TLS handshakes" in ln]
    assert len(lines) == 1, t.stderr_text()
    m = re.search(r"worker 0: TLS handshakes (\d+) \(resumed (\d+)\), DoT queries (\d+), "
                  r"DoH queries (\d+), HTTP errors (.*)$", lines[0])
    assert m, lines[0]
    assert m.groups()[:4] == ("7", "1", "3", "1"), lines[0]
    assert m.group(5) == "400:2 404:1 415:1", lines[0]
