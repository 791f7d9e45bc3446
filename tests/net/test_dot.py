"""DNS over TLS (RFC 7858): ternd's tls:// listeners with kdig and Python's ssl
client, under a CA the test makes: answers, pipelining with out-of-order
answers, padding (RFC 8467) and edns-tcp-keepalive (RFC 7828), ALPN, TLS
versions and suites, session resumption, idle timeout, the connection cap,
no certificate, and a certificate reload on SIGHUP."""

import signal
import socket
import ssl
import struct
import subprocess
import time
import warnings

import dns.edns
import dns.message
import dns.rcode
import pytest

from tlsutil import DotClient, Pki, start_encrypted

PAD_BLOCK = 468


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def kdig_tls(t, name, rdtype="A", *opts):
    t.note(name)
    cmd = ["kdig", "@127.0.0.1", "-p", str(t.dot_port), "+tls-ca=" + t.pki.ca,
           "+tls-hostname=localhost", name, rdtype, "+timeout=5", "+retry=0"] + list(opts)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=30)


def a_set(msg):
    return {rd.to_text() for rrset in msg.answer for rd in rrset if rrset.rdtype == 1}


def test_kdig_tls_answer_padded(ternd, simnet, pki):
    t = start_encrypted(ternd, pki)
    r = kdig_tls(t, "www.zone001.test")
    assert r.returncode == 0, r.stderr
    assert "status: NOERROR" in r.stdout, r.stdout
    for a in simnet.expected("www.zone001.test", "A"):
        assert a in r.stdout
    assert ";; TLS session (TLS1.3)" in r.stdout
    # kdig pads its queries over TLS by default: the answer is padded to 468
    assert "PADDING:" in r.stdout and "Received 468 B" in r.stdout, r.stdout


def test_kdig_tls_several_queries_one_connection(ternd, simnet, pki):
    t = start_encrypted(ternd, pki)
    names = ["www.zone%03d.test" % n for n in (2, 3, 4, 5)]
    for n in names:
        t.note(n)
    cmd = ["kdig", "@127.0.0.1", "-p", str(t.dot_port), "+tls-ca=" + pki.ca,
           "+tls-hostname=localhost", "+keepopen", "+timeout=5", "+retry=0"]
    for n in names:
        cmd += [n, "A"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("status: NOERROR") == len(names), r.stdout


def test_pipelined_answers_out_of_order(ternd, simnet, pki):
    t = start_encrypted(ternd, pki)
    c = DotClient(t.dot_port, pki)
    assert c.sock.selected_alpn_protocol() == "dot"
    t.note("www.slow.test", "www.zone007.test")
    slow = dns.message.make_query("www.slow.test", "A")
    c.send(slow)
    fast = []
    for n in range(10, 40):
        name = "www.zone%03d.test" % n
        t.note(name)
        q = dns.message.make_query(name, "A")
        fast.append(q)
        c.send(q)
    order = [c.recv().id for _ in range(1 + len(fast))]
    assert set(order) == {slow.id} | {q.id for q in fast}
    # www.slow.test takes 250 ms upstream: the others do not wait for it
    assert order[-1] == slow.id or order.index(slow.id) > 5, order
    c.close()


def test_pipeline_of_200_on_one_connection(ternd, simnet, pki):
    t = start_encrypted(ternd, pki)
    t.note("www.zone001.test")
    c = DotClient(t.dot_port, pki)
    ids = set()
    data = b""
    for i in range(200):
        q = dns.message.make_query("www.zone001.test", "A")
        q.id = i
        ids.add(i)
        w = q.to_wire()
        data += struct.pack("!H", len(w)) + w
    c.sock.sendall(data)
    got = set()
    for _ in range(200):
        m = c.recv()
        assert m.rcode() == dns.rcode.NOERROR
        got.add(m.id)
    assert got == ids
    c.close()


def test_padding_and_keepalive_options(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, "--tcp-idle-timeout", "7000")
    t.note("big.test", "www.zone001.test")
    c = DotClient(t.dot_port, pki)
    for name in ("www.zone001.test", "big.test"):
        q = dns.message.make_query(name, "A", use_edns=0, options=[
            dns.edns.GenericOption(dns.edns.PADDING, b""),
            dns.edns.GenericOption(11, b"")])
        c.send(q)
        wire = c.recv_wire()
        assert len(wire) % PAD_BLOCK == 0, len(wire)
        m = dns.message.from_wire(wire)
        codes = {o.otype: o for o in m.options}
        assert dns.edns.PADDING in codes
        ka = codes[11]
        assert struct.unpack("!H", ka.to_wire() if hasattr(ka, "to_wire") else ka.data)[0] == 70
    # no padding option in the query: no padding in the answer
    c.send(dns.message.make_query("www.zone001.test", "A", use_edns=0))
    m = dns.message.from_wire(c.recv_wire())
    assert not any(o.otype == dns.edns.PADDING for o in m.options)
    c.close()


def test_tls_versions_and_suites(ternd, simnet, pki):
    t = start_encrypted(ternd, pki)
    c = DotClient(t.dot_port, pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert c.sock.version() == "TLSv1.2"
    assert "GCM" in c.sock.cipher()[0] or "CHACHA20" in c.sock.cipher()[0]
    c.close()
    with pytest.raises((ssl.SSLError, OSError)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(pki.ca)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        DotClient(t.dot_port, pki, ctx=ctx)
    # CBC-mode suites without forward secrecy are not offered
    ctx = pki.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:AES256-SHA")
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", t.dot_port), timeout=5) as raw:
            ctx.wrap_socket(raw, server_hostname="localhost")


def test_session_resumption(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, threads=2)
    t.note("www.zone001.test")
    ctx12 = pki.client_context(["dot"])
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    c = DotClient(t.dot_port, pki, ctx=ctx12)
    c.send(dns.message.make_query("www.zone001.test", "A"))
    c.recv()
    session = c.sock.session
    c.close()
    for _ in range(4):   # whichever worker takes it: the ticket keys are shared
        c2 = DotClient(t.dot_port, pki, session=session, ctx=ctx12)
        assert c2.sock.session_reused
        c2.send(dns.message.make_query("www.zone001.test", "A"))
        assert c2.recv().rcode() == dns.rcode.NOERROR
        c2.close()
    # TLS 1.3: the ticket arrives after the handshake, with the first answer
    ctx13 = pki.client_context(["dot"])
    c = DotClient(t.dot_port, pki, ctx=ctx13)
    c.send(dns.message.make_query("www.zone001.test", "A"))
    c.recv()
    session = c.sock.session
    c.close()
    c3 = DotClient(t.dot_port, pki, session=session, ctx=ctx13)
    assert c3.sock.session_reused
    c3.close()


def test_idle_connection_closed(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, "--tcp-idle-timeout", "400")
    c = DotClient(t.dot_port, pki)
    t0 = time.monotonic()
    c.sock.settimeout(5)
    with pytest.raises((EOFError, ssl.SSLError, ConnectionError)):
        c.recv_wire()
    assert time.monotonic() - t0 < 3
    c.close()


def test_connection_cap(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, "--tcp-connections-max", "3")
    t.note("www.zone001.test")
    held = [DotClient(t.dot_port, pki) for _ in range(3)]
    with pytest.raises((EOFError, ssl.SSLError, ConnectionError, OSError)):
        extra = DotClient(t.dot_port, pki, timeout=3)
        extra.send(dns.message.make_query("www.zone001.test", "A"))
        extra.recv()
    held[0].send(dns.message.make_query("www.zone001.test", "A"))
    assert held[0].recv().rcode() == dns.rcode.NOERROR
    for c in held:
        c.close()
    time.sleep(0.2)
    c = DotClient(t.dot_port, pki)
    c.send(dns.message.make_query("www.zone001.test", "A"))
    assert c.recv().rcode() == dns.rcode.NOERROR
    c.close()


def test_garbage_and_short_length_close(ternd, simnet, pki):
    t = start_encrypted(ternd, pki)
    t.note("www.zone001.test")
    c = DotClient(t.dot_port, pki)
    c.sock.sendall(b"\x00\x05hello")
    with pytest.raises((EOFError, ssl.SSLError, ConnectionError)):
        c.recv_wire()
    # plain TCP bytes at the TLS port: a failed handshake, nothing else
    with socket.create_connection(("127.0.0.1", t.dot_port), timeout=5) as s:
        s.sendall(b"\x00\x1c" + b"\x00" * 28)
        s.settimeout(5)
        try:
            s.recv(100)
        except OSError:
            pass
    c = DotClient(t.dot_port, pki)
    c.send(dns.message.make_query("www.zone001.test", "A"))
    assert c.recv().rcode() == dns.rcode.NOERROR
    c.close()


def test_no_certificate(ternd, simnet, pki):
    t = start_encrypted(ternd, pki, cert=False)
    time.sleep(0.2)
    err = t.stderr_text()
    assert "no certificate" in err and "tls-cert" in err, err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", t.dot_port), timeout=1).close()
    assert t.query("www.zone001.test").rcode() == dns.rcode.NOERROR


def test_bad_certificate_file(ternd, simnet, pki, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    t = ternd("--listen", "tls://127.0.0.1:1", "--tls-cert", str(bad), "--tls-key", pki.key)
    time.sleep(0.2)
    assert "bad.pem" in t.stderr_text(), t.stderr_text()


def test_reload_certificate_on_sighup(ternd, simnet, pki, tmp_path):
    import shutil
    cert = str(tmp_path / "live.pem")
    key = str(tmp_path / "live.key")
    shutil.copy(pki.cert, cert)
    shutil.copy(pki.key, key)
    t = start_encrypted(ternd, pki, "--tls-cert", cert, "--tls-key", key, cert=False,
                        threads=2)
    from tlsutil import wait_port
    wait_port(t.dot_port)
    t.note("www.zone001.test")
    old = DotClient(t.dot_port, pki)
    old_serial = old.sock.getpeercert()["serialNumber"]
    new_cert, new_key = pki.issue("second", cn="second")
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while True:
        c = DotClient(t.dot_port, pki)
        serial = c.sock.getpeercert()["serialNumber"]
        c.close()
        if serial != old_serial:
            break
        assert time.monotonic() < deadline, "the new certificate was not served"
        time.sleep(0.05)
    # the connection made before the reload goes on as it was
    old.send(dns.message.make_query("www.zone001.test", "A"))
    assert old.recv().rcode() == dns.rcode.NOERROR
    old.close()
    # a broken file on reload keeps the working certificate
    with open(cert, "w") as f:
        f.write("garbage\n")
    t.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    c = DotClient(t.dot_port, pki)
    assert c.sock.getpeercert()["serialNumber"] == serial
    c.close()
    assert "certificate stays" in t.stderr_text()
