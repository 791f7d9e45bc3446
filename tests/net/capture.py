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

Only packets that can matter reach Python: a socket filter in the kernel keeps
IPv4 packets to port 53 inside the prefix, and the markers. Without it every
frame on lo went through this process, and on a machine where other work
floods lo (a benchmark at 60k packets/s: twice that in frames) the capture fell
behind and held the GIL: the test's own thread stalled for seconds, a sync
waited for its marker behind the backlog, and queries sent before a clear()
were counted after it.
"""

import collections
import ctypes
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
SYNC_TIMEOUT_S = 10   # a generous bound: a sync normally takes milliseconds
SO_ATTACH_FILTER = 26
SKF_AD_PKTTYPE = 0xfffff004  # SKF_AD_OFF + SKF_AD_PKTTYPE: the packet's direction

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
        self._attach_filter(s)
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
        self._sync(must=False)
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
    def _filter(self):
        """The classic BPF program: accept IPv4 packets coming in on lo that go
        to port 53 (UDP or TCP, not a later fragment) inside the prefix, and the
        markers (UDP to 127.0.0.1:MARKER_PORT); drop the rest in the kernel.
        On lo each packet is seen twice: the outgoing copy is dropped too."""
        octets = [int(x) for x in self.prefix.rstrip(".").split(".")]
        net = 0
        for x in octets:
            net = net << 8 | x
        shift = 32 - 8 * len(octets)
        net <<= shift
        mask = (0xffffffff << shift) & 0xffffffff
        LD_W_ABS, LD_H_ABS, LD_B_ABS, LDX_MSH = 0x20, 0x28, 0x30, 0xb1
        LD_H_IND, ALU_AND, JEQ, JSET, RET = 0x48, 0x54, 0x15, 0x45, 0x06
        # (code, jt, jf, k); jumps are relative to the next instruction
        prog = [
            (LD_W_ABS, 0, 0, SKF_AD_PKTTYPE),      # 0
            (JEQ, 15, 0, PACKET_OUTGOING),         # 1 the outgoing copy: drop
            (LD_H_ABS, 0, 0, 12),                  # 2 ethertype
            (JEQ, 0, 13, 0x0800),                  # 3 IPv4, else drop
            (LD_H_ABS, 0, 0, ETH_HLEN + 6),        # 4 flags and fragment offset
            (JSET, 11, 0, 0x1fff),                 # 5 a later fragment: drop
            (LDX_MSH, 0, 0, ETH_HLEN),             # 6 X = IP header length
            (LD_B_ABS, 0, 0, ETH_HLEN + 9),        # 7 protocol
            (JEQ, 1, 0, 6),                        # 8 TCP
            (JEQ, 0, 7, 17),                       # 9 UDP, else drop
            (LD_W_ABS, 0, 0, ETH_HLEN + 16),       # 10 destination address
            (JEQ, 6, 0, 0x7f000001),               # 11 127.0.0.1: a marker?
            (ALU_AND, 0, 0, mask),                 # 12
            (JEQ, 0, 3, net),                      # 13 inside the prefix, else drop
            (LD_H_IND, 0, 0, ETH_HLEN + 2),        # 14 destination port
            (JEQ, 0, 1, 53),                       # 15
            (RET, 0, 0, 0x40000),                  # 16 accept
            (RET, 0, 0, 0),                        # 17 drop
            (LD_H_IND, 0, 0, ETH_HLEN + 2),        # 18 the marker's port
            (JEQ, 0, 1, MARKER_PORT),              # 19
            (RET, 0, 0, 0x40000),                  # 20 accept
            (RET, 0, 0, 0),                        # 21 drop
        ]
        return prog

    def _attach_filter(self, s):
        prog = self._filter()
        code = b"".join(struct.pack("HBBI", *ins) for ins in prog)
        self._filter_buf = ctypes.create_string_buffer(code, len(code))  # kept alive
        fprog = struct.pack("HL", len(prog), ctypes.addressof(self._filter_buf))
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        # frames queued before the filter was attached are older than the capture
        s.setblocking(False)
        while True:
            try:
                s.recv(70000)
            except (BlockingIOError, OSError):
                break
        s.setblocking(True)

    def _sync(self, timeout_s=SYNC_TIMEOUT_S, must=True):
        """Send a marker through lo and drain the socket until it shows up.
        If it does not within @timeout_s, what was read is not all that was
        sent: a test must not judge on it (unless @must is false)."""
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
        if must:
            raise AssertionError("capture: the marker did not come through lo within %d s; "
                                 "the queries read so far may be incomplete" % timeout_s)

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
