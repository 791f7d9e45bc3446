#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_policy into fuzz/corpus/policy/.

Each seed is a flags byte (see fuzz/fuzz_policy.c) then a DNS message that
reaches one branch of the fixed script, or (bit 7) a script, a NUL and a
message. Rerun after changing it and commit the outputs:

    /usr/bin/python3 fuzz/corpus/make_policy_seeds.py
"""
import os

import dns.message
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "policy")


def query(name, rdtype, edns=-1, dnssec=False):
    q = dns.message.make_query(name, rdtype, use_edns=edns, want_dnssec=dnssec)
    q.id = 0x2a2a  # reproducible seeds
    return q.to_wire()


def response(name, rdtype, *rrs):
    q = dns.message.make_query(name, rdtype)
    q.id = 0x2a2a
    r = dns.message.make_response(q)
    for owner, ttl, t, data in rrs:
        r.answer.append(dns.rrset.from_text(owner + ".", ttl, "IN", t,
                                            *[d + "." if t in ("CNAME", "MX", "NS") else d
                                              for d in data]))
    return r.to_wire()


SEEDS = {
    "pass_udp_v4": (0x00, query("www.example.com", "A")),
    "pass_tcp_public": (0x09, query("www.example.com", "AAAA", edns=0)),
    "pass_dot_v6": (0x12, query("Mixed.Case.Example", "A", edns=0, dnssec=True)),
    "pass_doh_mapped": (0x1b, query("example.org", "A")),
    "nxdomain_covers": (0x00, query("x.ads.example", "A")),
    "fast_on_answer": (0x20, query("www.example.com", "A")),
    "nodata_has": (0x00, query("tracker.test", "A")),
    "refuse": (0x01, query("a.refuse.test", "A")),
    "servfail": (0x00, query("fail.test", "A")),
    "error_open": (0x00, query("error.test", "A")),
    "error_closed": (0x04, query("error.test", "A")),
    "loop_closed": (0x04, query("loop.test", "A")),
    "bomb": (0x00, query("bomb.test", "A")),
    "local_answer": (0x00, query("local.host.example", "ANY")),
    "local_cname": (0x00, query("local.x", "A")),
    "txt_answer": (0x00, query("some.name", "TXT")),
    "caa_bad_record": (0x00, query("bad.record", "CAA")),
    "srv_not_action": (0x00, query("_sip._tcp.example", "SRV")),
    "root": (0x00, query(".", "NS")),
    "escaped": (0x00, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                b"\x04a.b\xff\x00\x00\x01\x00\x01"),
    "answer_private": (0x00, response("www.example.com", "A",
                                      ("www.example.com", 60, "A", ["10.0.0.1", "192.0.2.7"]),
                                      ("www.example.com", 60, "AAAA", ["fd00::1"]))),
    "answer_private_lan": (0x18, response("www.example.com", "A",
                                          ("www.example.com", 60, "A", ["10.0.0.1"]))),
    "answer_cname": (0x00, response("alias.example", "A",
                                    ("alias.example", 300, "CNAME", ["target.example"]),
                                    ("target.example", 300, "A", ["127.0.0.1"]))),
    "answer_mx": (0x00, response("example.com", "MX",
                                 ("example.com", 300, "MX", ["10 mail.example.com"]))),
    "answer_ns": (0x00, response("example.com", "NS",
                                 ("example.com", 300, "NS", ["ns1.example.com"]))),
    "answer_txt": (0x00, response("example.com", "A",
                                  ("example.com", 300, "TXT", ["hello"]))),
}

SCRIPTS = {
    "script_pass": ("function on_query(q) return tern.pass() end", query("a.example", "A")),
    "script_tags": ("function on_query(q) return tern.pass{'x', q.transport} end\n"
                    "function on_answer(q, a) if q.tags.x then return tern.keep{} end end",
                    response("a.example", "A", ("a.example", 5, "A", ["1.2.3.4"]))),
    "script_syntax": ("function on_query(q) return end end", query("a.example", "A")),
    "script_answer": ("function on_query(q) return tern.answer{'A 1.2.3.4', 'AAAA ::2'}, 5 end",
                      query("a.example", "AAAA")),
    "script_replace": ("function on_answer(q, a) return tern.answer('A 0.0.0.0') end",
                       response("a.example", "A", ("a.example", 5, "A", ["1.2.3.4"]))),
    "script_keep_q": ("local k\nfunction on_query(q) k = q return tern.pass() end\n"
                      "function on_answer(q, a) return tern.nxdomain(), k.name end",
                      query("a.example", "A")),
    "script_loop_pcall": ("function on_query(q) pcall(function() while true do end end) end",
                          query("a.example", "A")),
    "script_bytecode": ("\x1bLua", query("a.example", "A")),
    "script_no_hooks": ("x = 1", query("a.example", "A")),
    "script_fast_pass": ("function on_query(q) if q.type == 'A' then return tern.pass() end\n"
                         "return tern.refuse() end", query("a.example", "A")),
    "script_fast_refuse": ("function on_query(q) if q.type == 'A' then return tern.pass() end\n"
                           "return tern.refuse() end", query("a.example", "MX")),
    "script_fast_error": ("function on_query(q) error(q.name) end", query("a.example", "A")),
    "script_nameset_late": ("function on_query(q) tern.nameset('/etc/hosts') end",
                            query("a.example", "A")),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (flags, wire) in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([flags]) + wire)
    for name, (src, wire) in SCRIPTS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            flags = 0xa4 if "fast" in name else 0x80  # fast path, fail-closed
            f.write(bytes([flags]) + src.encode() + b"\x00" + wire)


if __name__ == "__main__":
    main()
