#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_validate into this directory (hidden, so
that neither replay.c nor run.sh feeds it to the target). Responses carrying
the RFC 5702, 6605 and 8080 signed examples (they verify against the target's
fixed keys or the message's own DNSKEYs), the RFC 5155 Appendix B and RFC 4035
Appendix B denial proofs, and the attack shapes (colliding key tags, NSEC3
iterations and salts). Rerun after changing it and commit the outputs:

    /usr/bin/python3 fuzz/corpus/validate/.make_seeds.py
"""
import base64
import os
import struct

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

OUT = os.path.dirname(os.path.abspath(__file__))


def response(qname, qtype, answer=(), authority=(), rcode=dns.rcode.NOERROR):
    q = dns.message.make_query(qname, qtype, want_dnssec=True)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    r.set_rcode(rcode)
    for text in answer:
        r.answer.append(dns.rrset.from_text_list(*split(text)))
    for text in authority:
        r.authority.append(dns.rrset.from_text_list(*split(text)))
    return r.to_wire()


def split(text):
    """'owner ttl class type rdata | rdata...' -> from_text_list arguments."""
    head, *more = text.split(" | ")
    f = head.split(None, 4)
    return (f[0], int(f[1]), f[2], f[3], [f[4]] + more)


def write(name, wire):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(wire)


K5702_256 = "example.net. 3600 IN DNSKEY 256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk="
K5702_512 = "example.net. 3600 IN DNSKEY 256 3 10 AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL"
K6605_256 = "example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="
K6605_384 = "example.net. 3600 IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40"
K8080_1 = "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="

write("rfc5702_rsasha256", response("www.example.net.", "A", [
    "www.example.net. 3600 IN A 192.0.2.91",
    "www.example.net. 3600 IN RRSIG A 8 3 3600 20300101000000 20000101000000 9033 example.net. kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg=="],
    [K5702_256]))
write("rfc5702_rsasha512", response("www.example.net.", "A", [
    "www.example.net. 3600 IN A 192.0.2.91",
    "www.example.net. 3600 IN RRSIG A 10 3 3600 20300101000000 20000101000000 3740 example.net. tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw="],
    [K5702_512]))
write("rfc6605_p256", response("www.example.net.", "A", [
    "www.example.net. 3600 IN A 192.0.2.1",
    "www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw=="],
    [K6605_256]))
write("rfc6605_p384", response("www.example.net.", "A", [
    "www.example.net. 3600 IN A 192.0.2.1",
    "www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm"],
    [K6605_384]))
write("rfc8080_ed25519", response("example.com.", "MX", [
    "example.com. 3600 IN MX 10 mail.example.com.",
    "example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="]))


def key_tag(rdata):
    ac = 0
    for i, b in enumerate(rdata):
        ac += b if i & 1 else b << 8
    return (ac + (ac >> 16)) & 0xffff


def colliding_keys(tag, n):
    """n Ed25519-sized keys with key tag @tag (the KeyTrap shape)."""
    keys = []
    for i in range(n):
        body = bytearray(bytes([i]) * 30 + b"\0\0")
        for w in range(65536):
            body[30:32] = struct.pack("!H", w)
            if key_tag(struct.pack("!HBB", 257, 3, 15) + bytes(body)) == tag:
                break
        keys.append("257 3 15 " + base64.b64encode(bytes(body)).decode())
    return keys


trap = colliding_keys(3613, 16)
write("keytrap_colliding_tags", response("example.com.", "MX", [
    "example.com. 3600 IN MX 10 mail.example.com.",
    "example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
    "example.com. 3600 IN DNSKEY " + " | ".join(trap + ["257 3 15 " + K8080_1])]))

# RFC 5155 Appendix A/B: NSEC3 proofs (flags 1: the RFC's zone is opt-out)
SOA = "example. 3600 IN SOA ns1.example. bugs.x.w.example. 1 3600 300 3600000 3600"
N3 = {
    "0p9mh": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
    "2t7b4": "2t7b4g4vsa5smi47k61mv5bv1a22bojr 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
    "35mth": "35mthgpgcu1qg68fab165klnsnk3dpvl b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG",
    "b4um8": "b4um86eghhds6nea196smvmlo4ors995 gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG",
    "ji6ne": "ji6neoaepv8b5o6k4ev33abha8ht9fgc k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "k8ude": "k8udemvp1j2f7eg6jebps17vp3n8i58h kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
    "q04jk": "q04jkcevqvmu85r014c7dkba38o0ji5r r53bq7cc2uvmubfu5ocmm6pers9tk9en A RRSIG",
    "r53bq": "r53bq7cc2uvmubfu5ocmm6pers9tk9en t644ebqk9bibcna874givr6joj62mlhv MX RRSIG",
}


def n3(key, flags=1, iterations=12, salt="aabbccdd"):
    owner, rest = N3[key].split(" ", 1)
    return f"{owner}.example. 3600 IN NSEC3 1 {flags} {iterations} {salt} {rest}"


NX = dns.rcode.NXDOMAIN
write("rfc5155_b1_name_error", response("a.c.x.w.example.", "A", [],
      [SOA, n3("0p9mh"), n3("b4um8"), n3("35mth")], NX))
write("rfc5155_b1_name_error_no_opt_out", response("a.c.x.w.example.", "A", [],
      [SOA, n3("0p9mh", 0), n3("b4um8", 0), n3("35mth", 0)], NX))
write("rfc5155_b2_no_data", response("ns1.example.", "MX", [], [SOA, n3("2t7b4")]))
write("rfc5155_b21_no_data_ent", response("y.w.example.", "A", [], [SOA, n3("ji6ne")]))
write("rfc5155_b3_opt_out_referral", response("c.example.", "DS", [],
      [SOA, n3("35mth"), n3("0p9mh")]))
write("rfc5155_b4_wildcard", response("a.z.w.example.", "MX", [
      "a.z.w.example. 3600 IN MX 1 ai.example."],
      [SOA, n3("q04jk", 0)]))
write("rfc5155_b5_wildcard_no_data", response("a.z.w.example.", "AAAA", [],
      [SOA, n3("k8ude", 0), n3("q04jk", 0), n3("r53bq", 0)]))
write("nsec3_iterations_500", response("a.c.x.w.example.", "A", [],
      [SOA, n3("0p9mh", 0, 500), n3("b4um8", 0, 500), n3("35mth", 0, 500)], NX))
write("nsec3_many_salts", response("a.b.c.d.e.f.g.h.i.j.example.", "A", [],
      [SOA] + [n3(k, 0, 150, "%08x" % (0x1000 + i)) for i, k in enumerate(N3)], NX))

# RFC 4035 Appendix B: NSEC proofs
SOA4 = "example. 3600 IN SOA ns1.example. bugs.x.w.example. 1081539377 3600 300 3600000 3600"
write("rfc4035_b2_name_error", response("ml.example.", "A", [], [SOA4,
      "b.example. 3600 IN NSEC ns1.example. NS RRSIG NSEC",
      "example. 3600 IN NSEC a.example. NS SOA MX RRSIG NSEC DNSKEY"], NX))
write("rfc4035_b3_no_data", response("ns1.example.", "MX", [], [SOA4,
      "ns1.example. 3600 IN NSEC ns2.example. A RRSIG NSEC"]))
write("rfc4035_b5_referral_unsigned", response("b.example.", "DS", [], [SOA4,
      "b.example. 3600 IN NSEC ns1.example. NS RRSIG NSEC"]))
write("rfc4035_b7_wildcard_no_data", response("a.z.w.example.", "AAAA", [], [SOA4,
      "x.y.w.example. 3600 IN NSEC xx.example. MX RRSIG NSEC",
      "*.w.example. 3600 IN NSEC x.w.example. MX RRSIG NSEC"]))
write("nsec_ent_no_data", response("y.w.example.", "A", [], [SOA4,
      "x.w.example. 3600 IN NSEC x.y.w.example. MX RRSIG NSEC"]))
