"""tests/net/dnssec_cases: what a validating resolver must answer for each DNSSEC
name of the simulated internet (README.md, "DNSSEC cases").

One table, used by test_dnssec_cases.py (tern alone) and test_dnssec_unbound.py
(tern beside Unbound). Each Case says what tern must answer: the rcode, the AD
bit, the extended DNS error (RFC 8914; None: no EDE option at all), and whose
zone data the answer holds. `bug` marks what tern gets wrong today (the tests
xfail strictly with that reason); `unbound` records where Unbound legitimately
answers otherwise, and why.
"""

import collections

import dns.edns
import dns.flags
import dns.rcode
import dns.rdatatype

# RFC 8914 info codes
EDE_UNSUPPORTED_ALG = 1
EDE_UNSUPPORTED_DIGEST = 2
EDE_BOGUS = 6
EDE_SIG_EXPIRED = 7
EDE_SIG_NOT_YET_VALID = 8
EDE_DNSKEY_MISSING = 9
EDE_RRSIGS_MISSING = 10
EDE_NSEC_MISSING = 12
EDE_NSEC3_ITERATIONS = 27


class Case(collections.namedtuple("Case", "qname qtype rcode ad ede data_from cd_rcode bug unbound")):
    """@data_from: the name whose zone data the answer holds (a wildcard's owner;
    default the qname). @cd_rcode: the rcode with CD set (bogus cases).
    @unbound: (rcode, ad, why) when Unbound legitimately differs."""

    @property
    def id(self):
        return "%s-%s" % (self.qname, self.qtype)


def case(qname, qtype, rcode, ad, ede=None, data_from=None, cd_rcode=None, bug=None, unbound=None):
    return Case(qname, qtype, rcode, ad, ede, data_from, cd_rcode, bug, unbound)


# Known tern bugs: the xfail reasons (file, function, what happens, the fix).
# Remove a case's bug= when the fix lands: its test then passes (strict xfail fails).
BUG_WILDCARD_PROOF_DROPPED = (
    "resolver/iterate.c classify(): the `if (final)` branch (positive answer) keeps no "
    "NSEC/NSEC3 from the authority section, so validate.c check_denial() finds no wildcard "
    "proof: bogus (EDE 12), then served as a stale answer (EDE 3) without AD. "
    "Fix: add_denial_proofs(r, auth) there too")
BUG_BOGUS_WILDCARD_CACHED_SECURE = (
    "resolver/validate.c validate_run(): when check_denial() fails for a wildcard expansion "
    "the expanded RRset keeps verdict SECURE (its RRSIG is good) and store_verdicts() caches it "
    "so: lookup.c serve_stale() answers it with EDE 3, later hits answer it WITH AD. Fix: mark "
    "it BOGUS; and skip serve_stale() when res->bogus")
BUG_NO_EDE_WHEN_INSECURE = (
    "resolver/validate.c validate_run(): an EDE is attached only to BOGUS results, so the "
    "INSECURE reasons dnssec_reason_ede() maps (UNSUPPORTED_ALG 1, UNSUPPORTED_DIGEST 2, "
    "NSEC3_ITERATIONS 27, RFC 9276 3.2) never reach the client. Fix: set r->result.ede for "
    "them (check_denial(); own_keys() for the DNSKEY's reason, carried to the parent)")
BUG_CACHED_WILDCARD_WITHOUT_PROOF = (
    "resolver/lookup.c lookup_chain(): a cached RRset expanded from a wildcard (RRSIG labels "
    "< owner labels) is answered to a DO client without the NSEC/NSEC3 that proves the "
    "expansion (RFC 4035 3.1.3.3): a downstream validator finds it bogus. Fix: keep the proof "
    "with the entry, or treat it like a negative entry for DO clients (LOOKUP_PARTIAL)")
BUG_NO_AGGRESSIVE_NSEC = (
    "RFC 8198 aggressive use of cached NSEC/NSEC3 (issue 3) is not implemented: resolver/"
    "lookup.c resolves a miss even when a cached secure NSEC covers the name and the "
    "wildcard. Fix: on a miss under a signed zone, find the covering NSEC and answer from it")

SHA1_DIFFERS = (
    "tern treats RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7) as unsupported (RFC 9905 2: "
    "validators MUST treat SHA-1 algorithms as unsupported), so the zone is insecure; Unbound "
    "1.17 still validates them")


def algo_cases(zname):
    """A secure answer, a secure NXDOMAIN and a secure NODATA from @zname."""
    return [case("www." + zname, "A", "NOERROR", True),
            case("nx." + zname, "A", "NXDOMAIN", True),
            case("www." + zname, "MX", "NOERROR", True)]


CASES = {
    # Signed with each algorithm tern validates: secure answers, NXDOMAIN and NODATA.
    "algorithm": (
        algo_cases("signed.test")           # 13 ECDSAP256SHA256, NSEC
        + algo_cases("rsa.test")            # 8 RSASHA256, NSEC3
        + algo_cases("rsasha512.test")      # 10 RSASHA512, NSEC
        + algo_cases("ecdsap384.test")      # 14 ECDSAP384SHA384, NSEC3
        + algo_cases("ed25519.test")        # 15 ED25519, NSEC
        + algo_cases("ed448.test")          # 16 ED448, NSEC
        + [case("www.zone001.test", "A", "NOERROR", True),
           case("nx.zone002.test", "A", "NXDOMAIN", True),
           case("no-such-zone.test", "A", "NXDOMAIN", True),     # test.: NSEC3
           case("no-such-tld", "A", "NXDOMAIN", True),           # the root: NSEC
           case("www.rsa.test", "TXT", "NOERROR", True)]),
    # Insecure: unsigned below a proven absence of DS, or signed with what tern cannot check.
    "insecure": [
        case("www.insecure.test", "A", "NOERROR", False),
        case("www.zone250.test", "A", "NOERROR", False),
        case("www.glueless.test", "A", "NOERROR", False),
        case("www.deep.test", "A", "NXDOMAIN", False),
        case("www.rsasha1.test", "A", "NOERROR", False, EDE_UNSUPPORTED_ALG, unbound=("NOERROR", True, SHA1_DIFFERS)),
        case("nx.rsasha1.test", "A", "NXDOMAIN", False, EDE_UNSUPPORTED_ALG, unbound=("NXDOMAIN", True, SHA1_DIFFERS)),
        case("www.rsasha1-nsec3.test", "A", "NOERROR", False, EDE_UNSUPPORTED_ALG, unbound=("NOERROR", True, SHA1_DIFFERS)),
        case("www.private-alg.test", "A", "NOERROR", False, EDE_UNSUPPORTED_ALG),
        case("nx.private-alg.test", "A", "NXDOMAIN", False, EDE_UNSUPPORTED_ALG),
        case("www.ds-digest-unknown.test", "A", "NOERROR", False, EDE_UNSUPPORTED_DIGEST),
    ],
    # Bogus: SERVFAIL with the reason; with CD the data.
    "bogus": [
        case("www.bogus.test", "A", "SERVFAIL", False, EDE_BOGUS, cd_rcode="NOERROR"),
        case("www.bad-ds.test", "A", "SERVFAIL", False, EDE_DNSKEY_MISSING, cd_rcode="NOERROR"),
        case("www.ds-mismatch.test", "A", "SERVFAIL", False, EDE_DNSKEY_MISSING,
             cd_rcode="NOERROR"),
        case("www.expired.test", "A", "SERVFAIL", False, EDE_SIG_EXPIRED, cd_rcode="NOERROR"),
        case("www.future.test", "A", "SERVFAIL", False, EDE_SIG_NOT_YET_VALID,
             cd_rcode="NOERROR"),
        case("www.nokey.test", "A", "SERVFAIL", False, EDE_DNSKEY_MISSING, cd_rcode="NOERROR"),
        case("www.wrong-key.test", "A", "SERVFAIL", False, EDE_DNSKEY_MISSING,
             cd_rcode="NOERROR"),
        case("www.nosig.test", "A", "SERVFAIL", False, EDE_RRSIGS_MISSING, cd_rcode="NOERROR"),
        case("mail.nosig.test", "A", "NOERROR", True),       # its RRSIG is there
        case("nx.nsec-gap.test", "A", "SERVFAIL", False, EDE_NSEC_MISSING, cd_rcode="NXDOMAIN"),
        case("nt.nsec-gap.test", "A", "NXDOMAIN", True),     # inside the shortened span
        case("nx.nsec-missing.test", "A", "SERVFAIL", False, EDE_NSEC_MISSING,
             cd_rcode="NXDOMAIN"),
        case("foo.wild-noproof.test", "A", "SERVFAIL", False, EDE_NSEC_MISSING,
             data_from="*.wild-noproof.test", cd_rcode="NOERROR"),
        case("foo.wild-noproof.test", "MX", "SERVFAIL", False, EDE_NSEC_MISSING,
             cd_rcode="NOERROR"),
        case("real.wild-noproof.test", "A", "NOERROR", True),
        case("www.keytrap.test", "A", "SERVFAIL", False, EDE_BOGUS, cd_rcode="NOERROR"),
        case("k1.keytrap.test", "A", "SERVFAIL", False, EDE_BOGUS, cd_rcode="NOERROR"),
        case("keytrap.test", "A", "NOERROR", True),          # signed by the real ZSK
    ],
    # Denial of existence: opt-out, iterations, wildcards.
    "proof": [
        case("www.optout.test", "A", "NOERROR", True),
        case("www.sub.optout.test", "A", "NOERROR", False),  # unsigned, inside an opt-out span
        case("nx.optout.test", "A", "NXDOMAIN", False),      # the span may hide a delegation
        case("www.iter500.test", "A", "NOERROR", True),      # no NSEC3 needed
        case("nx.iter500.test", "A", "NXDOMAIN", False, EDE_NSEC3_ITERATIONS),
        case("www.iter500.test", "MX", "NOERROR", False, EDE_NSEC3_ITERATIONS),
        case("foo.wild-nsec.test", "A", "NOERROR", True, data_from="*.wild-nsec.test"),
        case("a.b.wild-nsec.test", "TXT", "NOERROR", True, data_from="*.wild-nsec.test"),
        case("foo.wild-nsec.test", "MX", "NOERROR", True),   # wildcard NODATA
        case("real.wild-nsec.test", "A", "NOERROR", True),
        case("foo.wild-nsec3.test", "A", "NOERROR", True, data_from="*.wild-nsec3.test"),
        case("a.b.wild-nsec3.test", "TXT", "NOERROR", True, data_from="*.wild-nsec3.test"),
        case("foo.wild-nsec3.test", "MX", "NOERROR", True),  # wildcard NODATA
        case("nx.wild-nsec3.test", "AAAA", "NOERROR", True),  # the wildcard has no AAAA
    ],
}

ALL = [c for cs in CASES.values() for c in cs]


def params(cases):
    """pytest.param for each case, xfail(strict) when tern has a known bug there."""
    import pytest
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)]
                         if c.bug else []) for c in cases]


# ---------------------------------------------------------------------------
# Reading answers.

def edes(msg):
    return [int(o.code) for o in msg.options if o.otype == dns.edns.OptionType.EDE]


def rdata(msg, qname, qtype):
    """The rdata texts of (@qname, @qtype) in the answer section."""
    t = dns.rdatatype.from_text(qtype)
    name = qname.rstrip(".").lower() + "."
    return {rd.to_text() for rrset in msg.answer if rrset.rdtype == t
            and rrset.name.to_text().lower() == name for rd in rrset}


def summary(msg, qname, qtype):
    """(rcode text, AD, sorted answer data, EDE codes): what the comparisons look at."""
    return (dns.rcode.to_text(msg.rcode()), bool(msg.flags & dns.flags.AD),
            tuple(sorted(rdata(msg, qname, qtype))), tuple(edes(msg)))


def expected_data(simnet, c):
    if c.rcode != "NOERROR":
        return set()
    return simnet.expected(c.data_from or c.qname, c.qtype)


def check(simnet, c, msg):
    """Assert that @msg is what tern must answer for case @c."""
    rcode, ad, data, ede = summary(msg, c.qname, c.qtype)
    what = "%s %s" % (c.qname, c.qtype)
    assert rcode == c.rcode, "%s: rcode %s, want %s\n%s" % (what, rcode, c.rcode, msg)
    assert ad == c.ad, "%s: AD %s, want %s\n%s" % (what, ad, c.ad, msg)
    want = () if c.ede is None else (c.ede,)
    assert ede == want, "%s: EDE %s, want %s\n%s" % (what, ede, want, msg)
    assert set(data) == expected_data(simnet, c), "%s: answer %s\n%s" % (what, data, msg)
