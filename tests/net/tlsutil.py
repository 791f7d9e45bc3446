"""Helpers for the DoT and DoH tests: a test CA and server certificates made
with the openssl CLI, free ports, and ternd started with encrypted listeners.

    pki = Pki(tmpdir)                  # CA + a server cert for 127.0.0.1/localhost
    t = start_encrypted(ternd, pki, dot=True, doh=True)
    t.dot_port, t.doh_port, t.http_port

The fixture waits for the plain listener only; start_encrypted() also waits
until each encrypted port accepts TCP.
"""

import os
import socket
import ssl
import struct
import subprocess
import time

import dns.message

from conftest import free_port


def run(*cmd, cwd=None):
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """A CA and server certificates signed by it (EC P-256, SAN 127.0.0.1 and localhost)."""

    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.ca = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
            "-subj", "/CN=tern test CA")
        self.cert, self.key = self.issue("server")

    def issue(self, name, cn="localhost"):
        """A new server certificate and key under @name; returns (cert, key) paths."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key

    def client_context(self, alpn=None):
        ctx = ssl.create_default_context(cafile=self.ca)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx


def wait_port(port, host="127.0.0.1", timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def start_encrypted(ternd, pki, *extra, dot=True, doh=False, http=False, cert=True, **kw):
    ports = {}
    args = []
    for kind, on in (("tls", dot), ("https", doh), ("http", http)):
        if on:
            ports[kind] = free_port()
            args += ["--listen", "%s://127.0.0.1:%d" % (kind, ports[kind])]
    if cert:
        args += ["--tls-cert", pki.cert, "--tls-key", pki.key]
    t = ternd(*(args + list(extra)), **kw)
    t.dot_port = ports.get("tls")
    t.doh_port = ports.get("https")
    t.http_port = ports.get("http")
    if cert:
        for p in ports.values():
            wait_port(p)
    elif http:
        wait_port(ports["http"])
    t.pki = pki
    return t


class DotClient:
    """A DoT connection: send many queries, read answers as they come."""

    def __init__(self, port, pki, alpn=("dot",), timeout=10, session=None, ctx=None, **ctx_opts):
        ctx = ctx or pki.client_context(list(alpn) if alpn else None)
        for k, v in ctx_opts.items():
            setattr(ctx, k, v)
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        self.buf = b""

    def send(self, msg):
        wire = msg.to_wire() if hasattr(msg, "to_wire") else msg
        self.sock.sendall(struct.pack("!H", len(wire)) + wire)

    def recv_wire(self):
        while True:
            if len(self.buf) >= 2:
                n = struct.unpack("!H", self.buf[:2])[0]
                if len(self.buf) >= 2 + n:
                    wire, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
                    return wire
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv(self):
        return dns.message.from_wire(self.recv_wire())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class H2Client:
    """A small HTTP/2 client over TLS (python3-h2): many streams on one connection."""

    def __init__(self, port, pki, timeout=10, tls=True, prefix=b""):
        import h2.config
        import h2.connection
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if prefix:
            raw.sendall(prefix)   # e.g. a PROXY v2 header, before TLS or h2c
        if tls:
            ctx = pki.client_context(["h2"])
            self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2"
        else:
            self.sock = raw
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.responses = {}    # stream id -> {"status", "headers", "body", "done", "reset"}
        self.terminated = None  # the GOAWAY's error code, if one came
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, body=None, headers=(), end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https"), (":authority", "localhost"),
                (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=body is None and end)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=True)
        self.responses[sid] = {"status": None, "headers": {}, "body": b"", "done": False,
                               "reset": None}
        return sid

    def pump(self, until=None, timeout=10):
        """Read events until until() is true, the connection ends or the time is up."""
        import h2.events
        deadline = time.monotonic() + timeout
        while not (until and until()):
            if self.closed or time.monotonic() > deadline:
                break
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                data = b""
                if time.monotonic() < deadline and not self.closed:
                    self.closed = True
                break
            if not data:
                self.closed = True
                break
            for ev in self.conn.receive_data(data):
                r = self.responses.get(getattr(ev, "stream_id", None))
                if isinstance(ev, h2.events.ResponseReceived):
                    hd = dict(ev.headers)
                    r["status"] = int(hd[":status"])
                    r["headers"] = hd
                elif isinstance(ev, h2.events.DataReceived):
                    r["body"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    r["done"] = True
                elif isinstance(ev, h2.events.StreamReset):
                    if r is not None:
                        r["reset"] = ev.error_code
                        r["done"] = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.terminated = ev.error_code
            try:
                self.flush()
            except OSError:
                self.closed = True

    def wait(self, sids, timeout=10):
        self.pump(lambda: all(self.responses[s]["done"] for s in sids), timeout)
        return [self.responses[s] for s in sids]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
