"""bench/handshake: new DoT connections, one after another, for a fixed time.

    handshake.py PORT SECONDS new|resume QNAME

Each connection: TCP connect, TLS handshake (no certificate check: like
`openssl s_time`, the client spends nothing on verifying), one DNS query for
QNAME/A over it and its answer, close. With "resume", every connection after
the first offers the session (ticket) the previous one got: a TLS 1.3 ticket
arrives after the handshake, so the query and its answer are what let the
client read it (`openssl s_time -reuse` closes before and never resumes under
TLS 1.3). Prints one JSON object: connections, resumed, failed, seconds.

Run by measure.handshakes(), pinned to the client CPU.
"""

import json
import socket
import ssl
import struct
import sys
import time


def query_wire(qname, qid):
    out = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in qname.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0" + struct.pack("!HH", 1, 1)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return buf


def main(argv):
    port, seconds, mode, qname = int(argv[1]), float(argv[2]), argv[3], argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["dot"])
    session = None
    done = resumed = failed = 0
    t0 = time.monotonic()
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s = ctx.wrap_socket(raw, session=session if mode == "resume" else None)
            q = query_wire(qname, done & 0xffff)
            s.sendall(struct.pack("!H", len(q)) + q)
            n = struct.unpack("!H", recv_exact(s, 2))[0]
            recv_exact(s, n)
            if s.session_reused:
                resumed += 1
            if mode == "resume":
                session = s.session
            s.close()
            done += 1
        except (OSError, EOFError, ssl.SSLError):
            failed += 1
            session = None
            if failed > 100 and failed > done:
                break
    print(json.dumps({"connections": done, "resumed": resumed, "failed": failed,
                      "seconds": time.monotonic() - t0}))


if __name__ == "__main__":
    main(sys.argv)
