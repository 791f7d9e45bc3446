"""tests/net/capture: what the simulated authoritative servers receive.

A raw AF_PACKET socket on "lo" (needs root) records every DNS query (UDP, and
TCP reassembled per connection) sent to port 53 on an address inside the simnet
prefix. Tests use it to count upstream queries and to see which names each
server was shown:

    with Capture("127.53") as cap:
        ...
    for q in cap.queries:      # Query(dst, qname, qtype, proto), in arrival order
        ...

Reading cap.queries first drains what the kernel has queued, after a marker
packet sent now has come through, so it includes every query sent before it.
"""

import collections
import os
import select
import socket
import struct
import threading
import time

import dns.exception
import dns.message
import dns.rdatatype

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ETH_HLEN = 14
MARKER_PORT = 9   # discard: nothing listens, the marker only needs to pass lo
MARKER = b"tern-capture-marker:"

Query = collections.namedtuple("Query", "dst qname qtype proto")


class Capture:
    def __init__(self, prefix="127.53", iface="lo", exclude=()):
        self.prefix = prefix.rstrip(".") + "."
        self.exclude = set(exclude)      # destinations not to record (internal servers)
        self.iface = iface
        self._queries = []
        self._streams = {}     # (src, sport, dst) -> bytes not yet parsed
        self._markers = set()  # tokens of the markers seen
        self._lock = threading.Lock()
        self._stop = False
        self._thread = None
        self._sock = None
        self.dropped = 0

    # --- public -----------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        try:
            # root may pass net.core.rmem_max (about 200 KiB): every packet on lo
            # lands here, and a busy machine must not make the capture drop ours
            s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 64 << 20)
        except OSError:
            pass
        s.bind((self.iface, 0))
        s.setblocking(False)
        self._sock = s
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def stop(self):
        if self._sock is None:
            return
        self._sync()
        self._stop = True
        self._thread.join(2)
        self._sock.close()
        self._sock = None

    @property
    def queries(self):
        """Every query seen so far, as a list of Query (dst, qname, qtype, proto)."""
        if self._sock is not None:
            self._sync()
        with self._lock:
            return list(self._queries)

    def clear(self):
        if self._sock is not None:
            self._sync()
        with self._lock:
            self._queries.clear()

    def names(self, dst=None):
        """The lowercased qnames (no trailing dot) seen, optionally only those sent to @dst."""
        return [q.qname for q in self.queries if dst is None or q.dst == dst]

    # --- inside -----------------------------------------------------------
    def _sync(self, timeout_s=2.0):
        """Send a marker through lo and drain the socket until it shows up."""
        token = os.urandom(8)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as m:
            m.sendto(MARKER + token, ("127.0.0.1", MARKER_PORT))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._drain()
            with self._lock:
                if token in self._markers:
                    self._markers.discard(token)
                    return
            time.sleep(0.002)

    def _run(self):
        while not self._stop:
            try:
                select.select([self._sock], [], [], 0.05)
            except (OSError, ValueError):
                return
            self._drain()

    def _drain(self):
        """Read and parse everything queued (from either thread)."""
        with self._lock:
            while self._sock is not None:
                try:
                    frame, addr = self._sock.recvfrom(70000)
                except BlockingIOError:
                    break
                except OSError:
                    break
                # On lo each packet is seen twice (outgoing, then incoming): keep one.
                if addr[2] == PACKET_OUTGOING:
                    continue
                i = frame.find(MARKER)
                if i >= 0:
                    self._markers.add(frame[i + len(MARKER):])
                    continue
                self._parse(frame[ETH_HLEN:])

    def _parse(self, pkt):
        if len(pkt) < 20:
            return
        version = pkt[0] >> 4
        if version == 4:
            ihl = (pkt[0] & 0x0F) * 4
            proto = pkt[9]
            src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
            total = struct.unpack("!H", pkt[2:4])[0]
            payload = pkt[ihl:total]
        elif version == 6 and len(pkt) >= 40:
            proto = pkt[6]
            src = socket.inet_ntop(socket.AF_INET6, pkt[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
            payload = pkt[40:40 + struct.unpack("!H", pkt[4:6])[0]]
        else:
            return
        if not dst.startswith(self.prefix) or dst in self.exclude:
            return
        if proto == 17 and len(payload) >= 8:
            sport, dport = struct.unpack("!HH", payload[:4])
            if dport == 53:
                self._record(dst, payload[8:], "udp")
        elif proto == 6 and len(payload) >= 20:
            sport, dport = struct.unpack("!HH", payload[:4])
            if dport != 53:
                return
            offset = (payload[12] >> 4) * 4
            flags = payload[13]
            key = (src, sport, dst)
            if flags & 0x02:            # SYN: a new connection
                self._streams[key] = b""
            data = payload[offset:]
            if data:
                buf = self._streams.get(key, b"") + data
                while len(buf) >= 2:
                    n = struct.unpack("!H", buf[:2])[0]
                    if len(buf) < 2 + n:
                        break
                    self._record(dst, buf[2:2 + n], "tcp")
                    buf = buf[2 + n:]
                self._streams[key] = buf
            if flags & 0x05:            # FIN or RST
                self._streams.pop(key, None)

    def _record(self, dst, wire, proto):
        try:
            msg = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError, IndexError):
            self.dropped += 1
            return
        if msg.flags & 0x8000 or not msg.question:     # a response, or no question
            return
        q = msg.question[0]
        self._queries.append(Query(dst, q.name.to_text().rstrip(".").lower() or ".",
                                   dns.rdatatype.to_text(q.rdtype), proto))
