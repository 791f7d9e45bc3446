/* resolver/dnssec: the DNSSEC core (RFC 4033-4035, 5155, 6840): signatures,
 * DS/DNSKEY matching, NSEC and NSEC3 denial proofs, and the work budget that
 * bounds what one answer may cost. Pure functions: no I/O, no clock, no DNS cache,
 * no logging. The validate stage brings the records (struct rrset,
 * already checked to belong to the zone it asks about), the time and a budget.
 * The one state kept between calls is a per-thread cache of built OpenSSL key
 * objects (dnssec_key.c), which changes what a check costs, never its result.
 * dnssec_sig.c: RRSIGs, canonical form, DS and DNSKEY sets; dnssec_key.c:
 * algorithms, key objects, the signature check; dnssec_nsec.c: denial of
 * existence. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"
#include "resolver/rrset.h"

/* ---- verdicts and reasons ---- */

/** RFC 4033 5: the values of enum verdict in cache/cache.h, so a verdict can
 * be stored as is. */
enum dnssec_verdict {
	DNSSEC_INSECURE = 1,      /* provably unsigned, or signed with what we cannot check */
	DNSSEC_SECURE = 2,
	DNSSEC_BOGUS = 3,         /* should be signed and is not, or the work limit was hit */
	DNSSEC_INDETERMINATE = 4, /* no trust anchor or DS to start from */
};

/** Why a verdict is what it is; dnssec_reason_ede() maps it to RFC 8914.
 * FORMAT: cache-entry: these values are cached with insecure and bogus
 * verdicts (cache_entry.why, at most CACHE_WHY_MAX): add at the end only;
 * renumbering means bumping CACHE_FORMAT. */
enum dnssec_reason {
	DNSSEC_R_NONE = 0,          /* SECURE */
	DNSSEC_R_SIG_INVALID,       /* the cryptographic check failed (EDE 6) */
	DNSSEC_R_SIG_EXPIRED,       /* EDE 7 */
	DNSSEC_R_SIG_NOT_YET_VALID, /* EDE 8 */
	DNSSEC_R_DNSKEY_MISSING,    /* no DNSKEY matches the RRSIG or the DS (EDE 9) */
	DNSSEC_R_RRSIGS_MISSING,    /* nothing signs the RRset (EDE 10) */
	DNSSEC_R_NO_ZONE_KEY_BIT,   /* the only matching keys lack the zone key bit (EDE 11) */
	DNSSEC_R_NSEC_MISSING,      /* the denial proof is incomplete (EDE 12) */
	DNSSEC_R_UNSUPPORTED_ALG,   /* INSECURE: no DS/key with an algorithm we validate (EDE 1) */
	DNSSEC_R_UNSUPPORTED_DIGEST,/* INSECURE: no DS with a digest we support (EDE 2) */
	DNSSEC_R_NSEC3_ITERATIONS,  /* INSECURE: NSEC3 iterations > DNSSEC_NSEC3_ITERATIONS_MAX (EDE 27) */
	DNSSEC_R_OPT_OUT,           /* INSECURE: the name lies in an NSEC3 opt-out span (no EDE) */
	DNSSEC_R_WRONG_SIGNER,      /* signer is not the zone, or not above the owner (EDE 6) */
	DNSSEC_R_BAD_LABELS,        /* RRSIG labels > owner labels (EDE 6) */
	DNSSEC_R_MALFORMED,         /* an RRSIG, DNSKEY, DS or NSEC(3) RDATA that does not parse (EDE 6) */
	DNSSEC_R_WORK_LIMIT,        /* BOGUS: the budget or a per-RRset limit ran out (EDE 6) */
	DNSSEC_R_NO_TRUST,          /* INDETERMINATE: neither DS nor trust anchor given (no EDE) */
	DNSSEC_R_INTERNAL,          /* out of memory (EDE 0) */
};

/** The RFC 8914 info code for @r, or EDE_NONE (0xffff) when there is none to send. */
uint16_t dnssec_reason_ede(enum dnssec_reason r);
/** A short static text for EDE EXTRA-TEXT and debug logs (no names in it). */
const char *dnssec_reason_text(enum dnssec_reason r);

/* ---- the work budget (KeyTrap, CVE-2023-50387; NSEC3 floods, CVE-2023-50868) ---- */

/* One budget per client answer, chain of trust included. A cold answer under
 * five signed zone cuts costs about 2 checks per cut (DNSKEY self-signature,
 * DS) plus 2-4 for the answer and its proof: ~15. 32 leaves room for double
 * signatures during rollovers; PowerDNS allows 30 per query, BIND 16 per
 * fetch. The worst case (RSA-4096 or Ed448 at ~0.1-0.3 ms) stays under ~10 ms. */
#define DNSSEC_SIG_CHECKS_MAX 32
/* DS digests (one hash of a DNSKEY each) per answer: a DS set rarely has more
 * than 4 records, each matching 1 key; 64 is generous and costs ~50 us. */
#define DNSSEC_DIGESTS_MAX 64
/* NSEC3 hashes per answer, each at most DNSSEC_NSEC3_ITERATIONS_MAX + 1 SHA-1
 * blocks. A closest encloser proof needs (labels below the zone) + 2 hashes;
 * 64 covers names 60 labels deep at 0 iterations, and caps the worst case at
 * 64 x 151 SHA-1 (~2 ms). PowerDNS allows 600 per query; Unbound 8 per step. */
#define DNSSEC_NSEC3_HASHES_MAX 64

/** What an answer may still spend. Every expensive call takes from it; when a
 * counter is at 0 the call returns BOGUS with DNSSEC_R_WORK_LIMIT. The done
 * counters only grow (statistics, tests). */
struct dnssec_budget {
	uint32_t sig_checks_left, digests_left, nsec3_hashes_left;
	uint32_t sig_checks_done, digests_done, nsec3_hashes_done;
	uint32_t nsec3_sha1_done; /* SHA-1 blocks behind those hashes: (iterations + 1) each */
};

/** Fill @b with the per-answer limits above and zero counts. */
void dnssec_budget_init(struct dnssec_budget *b);

/* Limits inside one RRset, whatever the budget says: */
/* RRSIG x DNSKEY pairs tried on one RRset. Unbound tries at most 8 RRSIGs per
 * RRset since its KeyTrap fix; an honest RRset needs 1 (2 in a rollover). */
#define DNSSEC_SIG_CHECKS_PER_RRSET 8
/* Keys tried for one RRSIG whose key tag and algorithm they share. Honest
 * collisions are rare (~n^2/2^17 for n keys); BIND gives up after 1 failure,
 * PowerDNS tries 2. KeyTrap puts thousands of keys on one tag. */
#define DNSSEC_KEYTAG_TRIES_MAX 4
/* RFC 9276 3.2: above this, NSEC3 proofs make the answer INSECURE (EDE 27)
 * without hashing. Unbound, BIND and Knot Resolver use 150 (RFC 9276 2.3). */
#define DNSSEC_NSEC3_ITERATIONS_MAX 150
/* Clock skew allowed on RRSIG inception and expiration. Small: the resolver's
 * own clock is NTP-synced; Unbound scales it to 10% of the validity period. */
#define DNSSEC_CLOCK_SKEW_S 300

/* ---- algorithms, keys, DS ---- */

enum dnssec_alg {
	DNSSEC_ALG_RSASHA1 = 5,           /* RFC 9905: treated as unsupported */
	DNSSEC_ALG_RSASHA1_NSEC3 = 7,     /* RFC 9905: treated as unsupported */
	DNSSEC_ALG_RSASHA256 = 8,
	DNSSEC_ALG_RSASHA512 = 10,
	DNSSEC_ALG_ECDSAP256SHA256 = 13,
	DNSSEC_ALG_ECDSAP384SHA384 = 14,
	DNSSEC_ALG_ED25519 = 15,
	DNSSEC_ALG_ED448 = 16,
};

enum dnssec_digest {
	DNSSEC_DIGEST_SHA1 = 1,
	DNSSEC_DIGEST_SHA256 = 2,
	DNSSEC_DIGEST_SHA384 = 4,
};

#define DNSKEY_FLAG_ZONE 0x0100   /* RFC 4034 2.1.1 */
#define DNSKEY_FLAG_REVOKE 0x0080 /* RFC 5011 2.1 */
#define DNSKEY_FLAG_SEP 0x0001    /* RFC 4034 2.1.1 */
#define DNSKEY_PROTOCOL 3         /* RFC 4034 2.1.2 */

/** True for the signature algorithms we validate: 8, 10, 13, 14, 15, 16.
 * RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7) are false: RFC 9905 2 says operators
 * MUST treat them as unsupported, so their zones are INSECURE, as are zones
 * signed with algorithms we do not know (RFC 4035 5.2). */
bool dnssec_algorithm_supported(uint8_t alg);
/** True for DS digest types 1 (SHA-1), 2 (SHA-256) and 4 (SHA-384). */
bool dnssec_digest_supported(uint8_t digest_type);

/** RFC 4034 Appendix B key tag of a DNSKEY RDATA (any algorithm but 1). */
uint16_t dnssec_key_tag(const uint8_t *dnskey, uint16_t len);

/** True when DS RDATA @ds is the digest of DNSKEY RDATA @dnskey owned by
 * @owner (RFC 4034 5.1.4: digest over the lowercased owner | RDATA), with the
 * same key tag and algorithm. False for an unsupported digest type, a digest
 * of the wrong length, or malformed RDATA. One digest computation. */
bool dnssec_ds_matches(const uint8_t *owner, const uint8_t *dnskey, uint16_t dnskey_len,
		       const uint8_t *ds, uint16_t ds_len);

/** Why the DS RRset @ds (already SECURE) gives no way into its zone:
 * DNSSEC_R_UNSUPPORTED_ALG when its supported digests are all of algorithms we
 * do not validate, DNSSEC_R_UNSUPPORTED_DIGEST when no digest type is
 * supported (the zone is INSECURE: RFC 4035 5.2, RFC 6840 5.2); DNSSEC_R_NONE
 * when a DS is usable, or @ds is empty. The same test as
 * dnssec_validate_dnskeys() makes, for a verdict read back from the cache. */
enum dnssec_reason dnssec_ds_unusable_reason(const struct rrset *ds);

/* ---- signatures ---- */

/** The outcome of dnssec_verify_rrset() or dnssec_validate_dnskeys(). */
struct dnssec_result {
	enum dnssec_verdict verdict;
	enum dnssec_reason reason;
	/* SECURE only: min(set TTL, RRSIG TTL, RRSIG original TTL, seconds to
	 * the RRSIG expiration) (RFC 4035 5.3.3): cap the cached TTL with it. */
	uint32_t ttl_cap_s;
	/* SECURE only: the RRset was synthesised from a wildcard (RRSIG labels <
	 * owner labels, RFC 4035 5.3.4): the caller must prove with
	 * dnssec_prove_wildcard() that the owner itself does not exist.
	 * wildcard_labels is the RRSIG labels field: the closest encloser is the
	 * owner's suffix with that many labels. */
	bool wildcard;
	uint8_t wildcard_labels;
	uint16_t key_tag; /* SECURE only: the key that verified */
};

/** Verify RRset @set with the RRSIGs in @rrsigs (RDATAs of type RRSIG owned
 * by the same name; those covering other types are skipped) against the zone
 * keys in @dnskeys (already SECURE, or the set being validated), for zone
 * @zone (the RRSIG signer must equal it, and the owner must be at or under it).
 * Checks (RFC 4035 5.3.1): type covered, signer, labels, algorithm, key tag,
 * zone key bit, protocol 3, inception <= now + skew and now - skew <=
 * expiration (RFC 1982 serial arithmetic on the 32-bit times), then the
 * signature over the canonical RRset (RFC 4034 3.1.8.1, 6.2, RFC 6840 5.1):
 * lowercase owner (or "*." + its suffix when RRSIG labels < owner labels),
 * lowercase names in the RDATA of the types that carry them, the original TTL,
 * RDATAs sorted and duplicates removed.
 * SECURE as soon as one RRSIG verifies. INSECURE (DNSSEC_R_UNSUPPORTED_ALG)
 * only when @dnskeys holds no zone key of an algorithm we support: such a zone
 * cannot be secure (validate_dnskeys would have said so). BOGUS otherwise, with
 * the most telling reason among the RRSIGs tried.
 * Cost: at most DNSSEC_SIG_CHECKS_PER_RRSET verifications, at most
 * DNSSEC_KEYTAG_TRIES_MAX keys per RRSIG, each taken from @b; running out is
 * BOGUS with DNSSEC_R_WORK_LIMIT. Cheap checks run before any crypto.
 * Borrows everything; allocates temporary buffers with malloc (bounded by the
 * RRset size) and frees them before return; out of memory is BOGUS with
 * DNSSEC_R_INTERNAL. Assumes class IN. Returns out->verdict. */
enum dnssec_verdict dnssec_verify_rrset(const struct rrset *set, const struct rrset *rrsigs,
					const struct rrset *dnskeys, const uint8_t *zone,
					uint64_t now_s, struct dnssec_budget *b,
					struct dnssec_result *out);

/** Validate the DNSKEY RRset @dnskeys of zone dnskeys->owner with its RRSIGs
 * @rrsigs, from the parent's DS RRset @ds (already SECURE) and/or the trust
 * anchor DNSKEYs @anchor_keys (either may be NULL or empty).
 * SECURE when a zone key that a usable DS matches (or that equals an anchor
 * key) signs the DNSKEY RRset (RFC 4035 5.2). INSECURE when no DS or anchor is
 * usable: all digest types unsupported (DNSSEC_R_UNSUPPORTED_DIGEST) or all
 * algorithms unsupported (DNSSEC_R_UNSUPPORTED_ALG) (RFC 4035 5.2, RFC 6840
 * 5.2). SHA-1 DS records are ignored when SHA-256 or SHA-384 ones for a
 * supported algorithm are present (RFC 4509 3). INDETERMINATE
 * (DNSSEC_R_NO_TRUST) when both @ds and @anchor_keys are NULL or empty. BOGUS
 * otherwise: DNSSEC_R_DNSKEY_MISSING (no key matches), DNSSEC_R_NO_ZONE_KEY_BIT,
 * DNSSEC_R_RRSIGS_MISSING, a signature reason, or DNSSEC_R_WORK_LIMIT.
 * Each DS digest takes from b->digests_left; signatures as in
 * dnssec_verify_rrset(). On SECURE, out->ttl_cap_s caps the DNSKEY RRset.
 * Borrows everything. Returns out->verdict. */
enum dnssec_verdict dnssec_validate_dnskeys(const struct rrset *dnskeys,
					    const struct rrset *rrsigs, const struct rrset *ds,
					    const struct rrset *anchor_keys, uint64_t now_s,
					    struct dnssec_budget *b, struct dnssec_result *out);

/* ---- denial of existence (dnssec_nsec.c) ---- */

enum dnssec_proof {
	DNSSEC_PROOF_NONE = 0,
	DNSSEC_PROOF_NXDOMAIN,        /* the name does not exist, nor does a wildcard that could match */
	DNSSEC_PROOF_NODATA,          /* the name exists (or is an empty non-terminal) without the type */
	DNSSEC_PROOF_WILDCARD_NODATA, /* the name does not exist; the wildcard that matches lacks the type */
	DNSSEC_PROOF_WILDCARD_ANSWER, /* the name does not exist, so wildcard expansion was right */
	DNSSEC_PROOF_OPT_OUT,         /* the name may be an unsigned delegation in an opt-out span */
};

struct dnssec_denial {
	enum dnssec_verdict verdict;
	enum dnssec_reason reason;
	enum dnssec_proof proof;
	bool nsec3;   /* the proof used NSEC3 records */
	bool opt_out; /* an opt-out NSEC3 covered the next closer name: INSECURE */
	/* NODATA proven by the record at the name itself, which has NS and no
	 * SOA: the name is a delegation (for DS: a provably unsigned one, RFC
	 * 4035 5.2), not an empty non-terminal nor a name inside the zone */
	bool delegation;
	/* NXDOMAIN, wildcard proofs and opt-out: the closest encloser, the
	 * longest existing ancestor of the name (RFC 5155 7.2.1); "" otherwise */
	uint8_t closest_encloser[NAME_MAX_WIRE];
};

/* The proof functions take @proofs, a list (->next) of NSEC and NSEC3 RRsets
 * from the authority section, each already verified SECURE by the caller with
 * signer @zone; RRsets of other types, and records not in @zone, are ignored.
 * NSEC records are used when there are any, NSEC3 otherwise (both: NSEC
 * first, then NSEC3). Each NSEC3 hash takes from b->nsec3_hashes_left; hashes
 * of one (name, parameters) pair are computed once per call. NSEC3 records with
 * an unknown hash algorithm or flags other than 0/1 are ignored (RFC 5155
 * 8.1); when only such remain, INSECURE (DNSSEC_R_UNSUPPORTED_ALG). NSEC3
 * iterations above DNSSEC_NSEC3_ITERATIONS_MAX make the answer INSECURE
 * (DNSSEC_R_NSEC3_ITERATIONS) before any hash is computed. A proof that does
 * not hold is BOGUS with DNSSEC_R_NSEC_MISSING. Names are compared without
 * case. Borrows everything, allocates nothing. Each returns out->verdict. */

/** NXDOMAIN for @qname: a record proving @qname does not exist and one proving
 * no wildcard at its closest encloser (RFC 4035 5.4, RFC 5155 8.4). An NSEC3
 * opt-out span over the next closer name makes it INSECURE (the name may be an
 * unsigned delegation), as Unbound does. */
enum dnssec_verdict dnssec_prove_nxdomain(const uint8_t *qname, const uint8_t *zone,
					  const struct rrset *proofs, struct dnssec_budget *b,
					  struct dnssec_denial *out);

/** NODATA for (@qname, @qtype): a record at @qname without @qtype and CNAME
 * (RFC 4035 5.4, RFC 5155 8.5), or @qname an empty non-terminal, or a wildcard
 * NODATA (RFC 5155 8.7). For qtype DS the record must come from the parent
 * side (NS bit may be set, SOA bit clear: RFC 6840 4.4); for other types a
 * record at a delegation (NS set, SOA clear) proves nothing (it is the
 * child's data). With NSEC3 and no record at @qname, an opt-out span over the
 * next closer name gives INSECURE (RFC 5155 8.6 and errata 3441): for DS, an
 * unsigned delegation (RFC 5155 9.2). */
enum dnssec_verdict dnssec_prove_nodata(const uint8_t *qname, uint16_t qtype,
					const uint8_t *zone, const struct rrset *proofs,
					struct dnssec_budget *b, struct dnssec_denial *out);

/** A positive answer for @qname synthesised from a wildcard whose RRSIG had
 * @rrsig_labels labels (dnssec_result.wildcard_labels): prove that the next
 * closer name (the suffix of @qname with rrsig_labels + 1 labels) does not
 * exist (RFC 4035 5.3.4, RFC 5155 8.8). Opt-out over it: INSECURE. */
enum dnssec_verdict dnssec_prove_wildcard(const uint8_t *qname, uint8_t rrsig_labels,
					  const uint8_t *zone, const struct rrset *proofs,
					  struct dnssec_budget *b, struct dnssec_denial *out);

/* ---- record helpers, for the proofs above and aggressive use (RFC 8198) ---- */

#define NSEC3_HASH_SHA1 1
#define NSEC3_FLAG_OPT_OUT 0x01
#define NSEC3_HASH_MAX 20 /* SHA-1 */

/** A parsed NSEC3 RDATA (RFC 5155 3.2); pointers borrowed from the RDATA. */
struct nsec3_rdata {
	uint8_t alg, flags;
	uint16_t iterations;
	uint8_t salt_len, next_len;
	const uint8_t *salt, *next; /* next: the raw hash, not base32 */
	const uint8_t *bitmap;
	uint16_t bitmap_len;
};

/** Parse NSEC RDATA: *@next (borrowed; a valid uncompressed name) and the type
 * bitmap. Returns 0 or TERN_EMALFORMED. */
int dnssec_nsec_parse(const uint8_t *rd, uint16_t len, const uint8_t **next,
		      const uint8_t **bitmap, uint16_t *bitmap_len);
/** Parse NSEC3 RDATA. Returns 0 or TERN_EMALFORMED. */
int dnssec_nsec3_parse(const uint8_t *rd, uint16_t len, struct nsec3_rdata *out);
/** True when @type is set in an NSEC/NSEC3 type bitmap (RFC 4034 4.1.2);
 * false for a malformed bitmap. */
bool dnssec_bitmap_has(const uint8_t *bitmap, uint16_t len, uint16_t type);

/** True when an NSEC from @owner to @next proves that @name does not exist:
 * owner < name < next in canonical order (RFC 4034 6.1), or past the last NSEC
 * (next <= owner: next is the zone apex) when name > owner and is under next;
 * and @name is not an empty non-terminal (next not under @name). The caller
 * must still refuse an NSEC whose owner is a delegation or DNAME above @name
 * (RFC 6840 4.1); dnssec_prove_*() do. */
bool dnssec_nsec_covers(const uint8_t *owner, const uint8_t *next, const uint8_t *name);

/** True when an NSEC3 from hash @owner to hash @next (both @len bytes) covers
 * @hash: owner < hash < next, or past the last one (next <= owner) when hash >
 * owner or hash < next (RFC 5155 7.2.1). */
bool dnssec_nsec3_covers(const uint8_t *owner, const uint8_t *next, uint8_t len,
			 const uint8_t *hash);

/** The NSEC3 hash of @name (RFC 5155 5): SHA-1 over the lowercased name and
 * salt, then @iterations more times over hash | salt. Takes one from
 * b->nsec3_hashes_left. Returns the length (NSEC3_HASH_MAX) or TERN_ELIMIT
 * (budget spent, or iterations above DNSSEC_NSEC3_ITERATIONS_MAX: nothing is
 * computed) or TERN_EMALFORMED (an algorithm other than SHA-1). */
int dnssec_nsec3_hash(const uint8_t *name, uint8_t alg, uint16_t iterations,
		      const uint8_t *salt, uint8_t salt_len, struct dnssec_budget *b,
		      uint8_t out[NSEC3_HASH_MAX]);

/** The hash in an NSEC3 owner name "<base32hex>.<zone>": decoded into @out.
 * Returns its length, or TERN_EMALFORMED when @owner is not exactly one label
 * under @zone or the label is not base32hex (RFC 4648 7, no padding). */
int dnssec_nsec3_owner_hash(const uint8_t *owner, const uint8_t *zone,
			    uint8_t out[NSEC3_HASH_MAX]);
