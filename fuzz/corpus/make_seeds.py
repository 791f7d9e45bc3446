#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_msg_parse into fuzz/corpus/msg_parse/.

Real-looking queries and responses, built with dnspython (which compresses
names as servers do), and malformed variants of them, each a small file named
for what it holds. Rerun after changing it and commit the outputs:

    /usr/bin/python3 fuzz/corpus/make_seeds.py
"""
import base64
import os
import random
import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "msg_parse")
COOKIE = bytes.fromhex("24a5ac9b3b5d7c21")


def query(name, rdtype, edns=-1, want_dnssec=False, options=None, qid=0x2a2a):
    q = dns.message.make_query(name, rdtype, use_edns=edns, want_dnssec=want_dnssec,
                               options=options or [], payload=1232)
    q.id = qid
    return q


def response(q, answer=(), authority=(), additional=(), rcode=dns.rcode.NOERROR, aa=False):
    r = dns.message.make_response(q)
    r.flags |= dns.flags.RA
    if aa:
        r.flags |= dns.flags.AA
    r.set_rcode(rcode)
    for section, rrs in ((r.answer, answer), (r.authority, authority),
                         (r.additional, additional)):
        for name, ttl, rdtype, *rdatas in rrs:
            section.append(dns.rrset.from_text(name, ttl, "IN", rdtype, *rdatas))
    return r


def u16(v):
    return struct.pack("!H", v)


def seeds():
    s = {}

    # queries
    s["query_a"] = query("www.example.com.", "A").to_wire()
    s["query_aaaa_edns_do_cookie"] = query(
        "www.example.org.", "AAAA", edns=0, want_dnssec=True,
        options=[dns.edns.GenericOption(dns.edns.COOKIE, COOKIE)]).to_wire()
    s["query_padding"] = query("a.b.c.d.example.net.", "HTTPS", edns=0, options=[
        dns.edns.GenericOption(dns.edns.PADDING, bytes(32))]).to_wire()
    s["query_0x20_case"] = query("wWw.ExAmPlE.cOm.", "A", edns=0).to_wire()

    # answers
    q = query("www.example.com.", "A", edns=0, want_dnssec=True)
    s["resp_cname_a_compressed"] = response(
        q, answer=[("www.example.com.", 3600, "CNAME", "example.com."),
                   ("example.com.", 3600, "A", "93.184.216.34", "93.184.216.35")],
        authority=[("example.com.", 86400, "NS", "a.iana-servers.net.",
                    "b.iana-servers.net.")]).to_wire()

    q = query("nope.example.com.", "A", edns=0)
    s["resp_nxdomain_soa"] = response(
        q, rcode=dns.rcode.NXDOMAIN, aa=True,
        authority=[("example.com.", 3600, "SOA",
                    "ns.icann.org. noc.dns.icann.org. 2024010101 7200 3600 1209600 3600")]
    ).to_wire()

    q = query("example.com.", "AAAA")
    s["resp_nodata_soa"] = response(
        q, aa=True, authority=[("example.com.", 300, "SOA",
                                "ns.example.com. hostmaster.example.com. 1 2 3 4 5")]).to_wire()

    q = query("www.example.com.", "A", edns=0)
    s["resp_referral_glue"] = response(
        q, authority=[("com.", 172800, "NS", "a.gtld-servers.net.", "b.gtld-servers.net.",
                       "c.gtld-servers.net.")],
        additional=[("a.gtld-servers.net.", 172800, "A", "192.5.6.30"),
                    ("a.gtld-servers.net.", 172800, "AAAA", "2001:503:a83e::2:30"),
                    ("b.gtld-servers.net.", 172800, "A", "192.33.14.30")]).to_wire()

    q = query("sub.example.com.", "A")
    s["resp_referral_in_zone_glue"] = response(
        q, authority=[("sub.example.com.", 3600, "NS", "ns1.sub.example.com.",
                       "ns2.sub.example.com.")],
        additional=[("ns1.sub.example.com.", 3600, "A", "198.51.100.1"),
                    ("ns2.sub.example.com.", 3600, "A", "198.51.100.2")]).to_wire()

    q = query("example.com.", "MX", edns=0)
    s["resp_mx"] = response(
        q, answer=[("example.com.", 300, "MX", "10 mail.example.com.", "20 mx2.example.net.")],
        additional=[("mail.example.com.", 300, "A", "192.0.2.25")]).to_wire()

    q = query("example.com.", "TXT")
    s["resp_txt"] = response(
        q, answer=[("example.com.", 300, "TXT", '"v=spf1 -all"', '"a" "b" "c"')]).to_wire()

    q = query("_sip._tcp.example.com.", "SRV")
    s["resp_srv"] = response(
        q, answer=[("_sip._tcp.example.com.", 300, "SRV", "10 60 5060 sip.example.com.")]
    ).to_wire()

    q = query("34.216.184.93.in-addr.arpa.", "PTR")
    s["resp_ptr"] = response(
        q, answer=[("34.216.184.93.in-addr.arpa.", 300, "PTR", "example.com.")]).to_wire()

    q = query("example.com.", "DNSKEY", edns=0, want_dnssec=True)
    key = base64.b64encode(bytes(range(64))).decode()  # the size of a P-256 key
    s["resp_dnskey_rrsig"] = response(
        q, answer=[("example.com.", 3600, "DNSKEY", "257 3 13 " + key, "256 3 13 " + key),
                   ("example.com.", 3600, "RRSIG",
                    "DNSKEY 13 2 3600 20300101000000 20240101000000 12345 example.com. " + key)]
    ).to_wire()

    q = query("com.", "DS", edns=0, want_dnssec=True)
    s["resp_ds"] = response(
        q, answer=[("com.", 86400, "DS",
                    "19718 13 2 8ACBB0CD28F41250A80A491389424D341522D946B0DA0C0291F2D3D771D7805A")]
    ).to_wire()

    q = query("b.example.com.", "A", edns=0, want_dnssec=True)
    s["resp_nsec_nxdomain"] = response(
        q, rcode=dns.rcode.NXDOMAIN,
        authority=[("example.com.", 300, "SOA", "ns.example.com. h.example.com. 1 2 3 4 300"),
                   ("a.example.com.", 300, "NSEC", "c.example.com. A RRSIG NSEC"),
                   ("example.com.", 300, "NSEC", "a.example.com. NS SOA RRSIG NSEC DNSKEY")]
    ).to_wire()

    q = query("x.example.org.", "A", edns=0, want_dnssec=True)
    s["resp_nsec3"] = response(
        q, rcode=dns.rcode.NXDOMAIN,
        authority=[("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.org.", 300, "NSEC3",
                    "1 1 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG")]).to_wire()

    q = query("example.com.", "HTTPS", edns=0)
    s["resp_https_svcb"] = response(
        q, answer=[("example.com.", 300, "HTTPS",
                    '1 . alpn="h2,h3" ipv4hint=192.0.2.1 ech=AEj+DQBEAQAgACAdd+scUi0IYFsXnUIU')]
    ).to_wire()

    q = query("alias.example.com.", "A")
    s["resp_dname"] = response(
        q, answer=[("example.com.", 300, "DNAME", "example.net."),
                   ("alias.example.com.", 300, "CNAME", "alias.example.net."),
                   ("alias.example.net.", 300, "A", "192.0.2.9")]).to_wire()

    q = query("many.example.com.", "A", edns=0)
    s["resp_large_1400"] = response(
        q, answer=[("many.example.com.", 60, "A") + tuple("10.0.%d.%d" % (i // 250, i % 250)
                                                          for i in range(85))]).to_wire(max_size=65535)

    q = query("big.example.com.", "TXT", edns=0)
    s["resp_tcp_8k"] = response(
        q, answer=[("big.example.com.", 60, "TXT") + tuple('"%s"' % ("x%03d" % i * 60)
                                                           for i in range(32))]).to_wire(max_size=65535)

    q = query("www.example.com.", "A", edns=0)
    r = response(q)
    r.flags |= dns.flags.TC
    s["resp_truncated_tc"] = r.to_wire()

    q = query("dnssec-failed.org.", "A", edns=0, want_dnssec=True)
    r = response(q, rcode=dns.rcode.SERVFAIL)
    r.use_edns(0, 0, 1232, options=[dns.edns.EDEOption(dns.edns.EDECode.DNSSEC_BOGUS,
                                                       "signature expired")])
    s["resp_servfail_ede"] = r.to_wire()

    q = query("example.com.", "A", edns=0)
    r = response(q, rcode=dns.rcode.BADVERS)
    s["resp_badvers"] = r.to_wire()

    # legacy types whose RDATA may be compressed (RFC 3597 4), by hand:
    # MINFO and MB, both pointing back at the question name
    qw = query("example.com.", "ANY").to_wire()
    hdr = bytearray(qw[:12])
    hdr[2] |= 0x80
    hdr[6:8] = u16(3)
    body = qw[12:]
    minfo = b"\x05admin\xc0\x0c" + b"\x06errors\xc0\x0c"
    mb = b"\x04mbox\xc0\x0c"
    md = b"\xc0\x0c"
    rrs = (b"\xc0\x0c" + u16(14) + u16(1) + struct.pack("!I", 60) + u16(len(minfo)) + minfo +
           b"\xc0\x0c" + u16(7) + u16(1) + struct.pack("!I", 60) + u16(len(mb)) + mb +
           b"\xc0\x0c" + u16(3) + u16(1) + struct.pack("!I", 60) + u16(len(md)) + md)
    s["resp_legacy_minfo_mb_md"] = bytes(hdr) + body + rrs

    s["header_only"] = bytes.fromhex("beef81050000000000000000")

    # malformed: each breaks one rule of msg_parse or rr_rdata_unpack
    good = s["resp_cname_a_compressed"]
    s["bad_short_header"] = good[:7]
    s["bad_trailing_garbage"] = good + b"\x00\x00"
    s["bad_cut_mid_rr"] = good[:len(good) // 2]
    two_q = bytearray(s["query_a"])
    two_q[4:6] = u16(2)
    s["bad_two_questions"] = bytes(two_q) + s["query_a"][12:]
    # question at 12 then an owner pointing forward at itself
    a = s["query_a"]
    ans = b"\xc0" + bytes([len(a)]) + u16(1) + u16(1) + struct.pack("!I", 1) + u16(4) + b"\x01\x02\x03\x04"
    hdr = bytearray(a[:12])
    hdr[6:8] = u16(1)
    s["bad_forward_pointer"] = bytes(hdr) + a[12:] + ans
    loop = bytearray(12) + b"\x01a\xc0\x10\xc0\x0c" + u16(1) + u16(1)
    loop[5] = 1
    s["bad_pointer_loop"] = bytes(loop)
    s["bad_label_64"] = bytes.fromhex("0001000000010000000000") + b"\x00\x40" + b"x" * 64 + b"\x00" + u16(1) + u16(1)
    s["bad_name_256"] = (bytes.fromhex("000100000001000000000000") +
                         (b"\x3f" + b"a" * 63) * 3 + b"\x3e" + b"b" * 62 + b"\x00" + u16(1) + u16(1))
    opt = b"\x00" + u16(41) + u16(1232) + struct.pack("!I", 0) + u16(0)
    dup = bytearray(s["query_a"])
    dup[10:12] = u16(2)
    s["bad_duplicate_opt"] = bytes(dup) + opt + opt
    in_answer = bytearray(s["query_a"])
    in_answer[6:8] = u16(1)
    s["bad_opt_in_answer"] = bytes(in_answer) + opt
    bad_opts = b"\x00" + u16(41) + u16(1232) + struct.pack("!I", 0) + u16(6) + u16(10) + u16(8) + b"\x01\x02"
    one = bytearray(s["query_a"])
    one[10:12] = u16(1)
    s["bad_opt_options"] = bytes(one) + bad_opts
    # SOA RDATA one byte short of its 20 bytes of numbers (parses; unpack fails)
    q = query("example.com.", "SOA").to_wire()
    hdr = bytearray(q[:12])
    hdr[2] |= 0x80
    hdr[6:8] = u16(1)
    rd = b"\x02ns\xc0\x0c" + b"\x01h\xc0\x0c" + bytes(range(1, 20))
    s["bad_soa_short_numbers"] = (bytes(hdr) + q[12:] + b"\xc0\x0c" + u16(6) + u16(1) +
                                  struct.pack("!I", 60) + u16(len(rd)) + rd)
    a5 = bytearray(s["query_a"])
    a5[2] |= 0x80
    a5[6:8] = u16(1)
    s["bad_a_five_bytes"] = bytes(a5) + b"\xc0\x0c" + u16(1) + u16(1) + struct.pack("!I", 1) + u16(5) + b"\x01\x02\x03\x04\x05"
    past = bytearray(s["query_a"])
    past[2] |= 0x80
    past[6:8] = u16(1)
    s["bad_rdlength_past_end"] = (bytes(past) + b"\xc0\x0c" + u16(1) + u16(1) +
                                  struct.pack("!I", 1) + u16(200) + b"\x01\x02\x03\x04")
    return s


def main():
    # dnspython shuffles the rdatas of an RRset on output; pin the shuffle
    # so that reruns write the same bytes
    random.seed(0)
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.unlink(os.path.join(OUT, old))
    for name, wire in sorted(seeds().items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(wire)
        print("%-32s %5d bytes" % (name, len(wire)))


if __name__ == "__main__":
    main()
