#!/usr/bin/python3
"""Seeds for fuzz/fuzz_doh: HTTP/2 client frames (python3-h2, without the
preface, which the target adds) and HTTP/1.1 requests, each behind the
target's two control bytes (protocol, chunk size)."""
import base64
import os

import dns.message
import h2.config
import h2.connection

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "doh")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

q = dns.message.make_query("www.example.com", "A", use_edns=0)
q.id = 0
wire = q.to_wire()
b64 = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()


def h2_seed(requests, reset=False):
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    for method, path, ctype, body in requests:
        sid = c.get_next_available_stream_id()
        hd = [(":method", method), (":scheme", "https"), (":authority", "x"), (":path", path)]
        if ctype:
            hd.append(("content-type", ctype))
        c.send_headers(sid, hd, end_stream=body is None)
        if body is not None:
            c.send_data(sid, body, end_stream=True)
        if reset:
            c.reset_stream(sid)
    data = c.data_to_send()
    assert data.startswith(PREFACE)
    return b"\x00\xff" + data[len(PREFACE):]


seeds = {
    "h2_get": h2_seed([("GET", "/dns-query?dns=" + b64, None, None)]),
    "h2_post": h2_seed([("POST", "/dns-query", "application/dns-message", wire)]),
    "h2_json": h2_seed([("GET", "/dns-query?name=www.example.com&type=AAAA&do=1&cd=1", None, None)]),
    "h2_many": h2_seed([("GET", "/dns-query?dns=" + b64, None, None)] * 5 +
                       [("PUT", "/x", None, b"zz"), ("POST", "/dns-query", "text/plain", b"q")]),
    "h2_reset": h2_seed([("GET", "/dns-query?dns=" + b64, None, None)] * 4, reset=True),
    "h1_get": b"\x01\x03" + ("GET /dns-query?dns=%s HTTP/1.1\r\nHost: x\r\n\r\n" % b64).encode(),
    "h1_post": b"\x01\x00" + b"POST /dns-query HTTP/1.1\r\nHost: x\r\ncontent-type: "
               b"application/dns-message\r\ncontent-length: %d\r\n\r\n" % len(wire) + wire,
    "h1_pipeline": b"\x01\x10" + ("GET /dns-query?name=a.example&type=MX HTTP/1.1\r\n"
                                  "accept: application/dns-json\r\n\r\n" * 3).encode()
                   + b"GET /dns-query HTTP/1.0\r\n\r\n",
    "h1_chunked": b"\x01\x05" + b"POST /dns-query HTTP/1.1\r\ncontent-type: application/"
                  b"dns-message\r\ntransfer-encoding: chunked\r\n\r\n%x\r\n" % len(wire) + wire
                  + b"\r\n0\r\n\r\n",
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
