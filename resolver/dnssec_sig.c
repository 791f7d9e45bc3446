/* resolver/dnssec_sig: RRSIG verification, DS <-> DNSKEY matching and the work
 * budget (see dnssec.h). We decide what each check costs before paying it, and
 * build one signed-data buffer per RRSIG rather than ldns's per-RR
 * allocations; the signature check itself, and the key objects it needs, are
 * dnssec_key.c's. DS digests are OpenSSL EVP, called directly. Nothing here does I/O or
 * reads the clock; errors never leave OpenSSL's thread error queue dirty. */
#include "resolver/dnssec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "cache/cache.h"
#include "resolver/dnssec_key.h"

_Static_assert((int)DNSSEC_INSECURE == (int)VERDICT_INSECURE &&
		       (int)DNSSEC_SECURE == (int)VERDICT_SECURE &&
		       (int)DNSSEC_BOGUS == (int)VERDICT_BOGUS &&
		       (int)DNSSEC_INDETERMINATE == (int)VERDICT_INDETERMINATE,
	       "dnssec verdicts are stored as cache verdicts");

#define RRSIG_FIXED 18 /* RFC 4034 3.1: type covered .. key tag */
#define DNSKEY_FIXED 4 /* flags, protocol, algorithm */
#define DS_FIXED 4     /* key tag, algorithm, digest type */

void dnssec_budget_init(struct dnssec_budget *b)
{
	memset(b, 0, sizeof(*b));
	b->sig_checks_left = DNSSEC_SIG_CHECKS_MAX;
	b->digests_left = DNSSEC_DIGESTS_MAX;
	b->nsec3_hashes_left = DNSSEC_NSEC3_HASHES_MAX;
}

uint16_t dnssec_reason_ede(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_R_SIG_INVALID:
	case DNSSEC_R_WRONG_SIGNER:
	case DNSSEC_R_BAD_LABELS:
	case DNSSEC_R_MALFORMED:
	case DNSSEC_R_WORK_LIMIT:
		return 6; /* DNSSEC Bogus */
	case DNSSEC_R_SIG_EXPIRED:
		return 7;
	case DNSSEC_R_SIG_NOT_YET_VALID:
		return 8;
	case DNSSEC_R_DNSKEY_MISSING:
		return 9;
	case DNSSEC_R_RRSIGS_MISSING:
		return 10;
	case DNSSEC_R_NO_ZONE_KEY_BIT:
		return 11;
	case DNSSEC_R_NSEC_MISSING:
		return 12;
	case DNSSEC_R_UNSUPPORTED_ALG:
		return 1;
	case DNSSEC_R_UNSUPPORTED_DIGEST:
		return 2;
	case DNSSEC_R_NSEC3_ITERATIONS:
		return 27;
	case DNSSEC_R_INTERNAL:
		return 0; /* Other Error */
	case DNSSEC_R_NONE:
	case DNSSEC_R_OPT_OUT:
	case DNSSEC_R_NO_TRUST:
		break;
	}
	return EDE_NONE;
}

const char *dnssec_reason_text(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_R_NONE: return "secure";
	case DNSSEC_R_SIG_INVALID: return "signature does not verify";
	case DNSSEC_R_SIG_EXPIRED: return "signature expired";
	case DNSSEC_R_SIG_NOT_YET_VALID: return "signature not yet valid";
	case DNSSEC_R_DNSKEY_MISSING: return "no DNSKEY matches";
	case DNSSEC_R_RRSIGS_MISSING: return "no usable RRSIG";
	case DNSSEC_R_NO_ZONE_KEY_BIT: return "key without the zone key bit";
	case DNSSEC_R_NSEC_MISSING: return "denial of existence not proven";
	case DNSSEC_R_UNSUPPORTED_ALG: return "unsupported DNSKEY algorithm";
	case DNSSEC_R_UNSUPPORTED_DIGEST: return "unsupported DS digest type";
	case DNSSEC_R_NSEC3_ITERATIONS: return "NSEC3 iterations above limit";
	case DNSSEC_R_OPT_OUT: return "NSEC3 opt-out";
	case DNSSEC_R_WRONG_SIGNER: return "wrong signer name";
	case DNSSEC_R_BAD_LABELS: return "RRSIG labels exceed owner";
	case DNSSEC_R_MALFORMED: return "malformed DNSSEC record";
	case DNSSEC_R_WORK_LIMIT: return "validation work limit exceeded";
	case DNSSEC_R_NO_TRUST: return "no trust anchor";
	case DNSSEC_R_INTERNAL: return "out of memory";
	}
	return "?";
}

/* ---- small parsers over borrowed RDATA ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Length of the uncompressed name at @p within @avail bytes, or -1. */
static int rd_name_len(const uint8_t *p, size_t avail)
{
	size_t at = 0;
	while (at < avail) {
		uint8_t l = p[at];
		if (l == 0)
			return at + 1 <= NAME_MAX_WIRE ? (int)(at + 1) : -1;
		if (l > LABEL_MAX)
			return -1;
		at += 1u + l;
	}
	return -1;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

struct rrsig {
	uint16_t covered;
	uint8_t alg, labels;
	uint32_t orig_ttl, expiration, inception;
	uint16_t key_tag;
	const uint8_t *signer;
	int signer_len;
	const uint8_t *sig;
	size_t sig_len;
	const uint8_t *rd; /* the RDATA: its first RRSIG_FIXED bytes start the signed data */
};

static bool rrsig_parse(const uint8_t *rd, uint16_t len, struct rrsig *s)
{
	if (len < RRSIG_FIXED + 1)
		return false;
	s->rd = rd;
	s->covered = get16(rd);
	s->alg = rd[2];
	s->labels = rd[3];
	s->orig_ttl = get32(rd + 4);
	s->expiration = get32(rd + 8);
	s->inception = get32(rd + 12);
	s->key_tag = get16(rd + 16);
	s->signer = rd + RRSIG_FIXED;
	s->signer_len = rd_name_len(s->signer, len - RRSIG_FIXED);
	if (s->signer_len < 0)
		return false;
	s->sig = s->signer + s->signer_len;
	s->sig_len = len - RRSIG_FIXED - (size_t)s->signer_len;
	return s->sig_len > 0;
}

struct dnskey {
	uint16_t flags;
	uint8_t protocol, alg;
	const uint8_t *key;
	size_t key_len;
};

static bool dnskey_parse(const uint8_t *rd, uint16_t len, struct dnskey *k)
{
	if (len < DNSKEY_FIXED + 1)
		return false;
	k->flags = get16(rd);
	k->protocol = rd[2];
	k->alg = rd[3];
	k->key = rd + DNSKEY_FIXED;
	k->key_len = len - DNSKEY_FIXED;
	return true;
}

/* RFC 1982 / RFC 4034 3.1.5: a 32-bit time is the instant nearest to @now
 * with those low 32 bits. */
static int64_t serial_time(uint32_t t, uint64_t now)
{
	return (int64_t)now + (int32_t)(t - (uint32_t)now);
}

/* ---- algorithms (signature algorithms: dnssec_key.c) ---- */

static const EVP_MD *digest_md(uint8_t type, size_t *len)
{
	switch (type) {
	case DNSSEC_DIGEST_SHA1: *len = 20; return EVP_sha1();
	case DNSSEC_DIGEST_SHA256: *len = 32; return EVP_sha256();
	case DNSSEC_DIGEST_SHA384: *len = 48; return EVP_sha384();
	}
	return NULL;
}

bool dnssec_digest_supported(uint8_t digest_type)
{
	size_t len;
	return digest_md(digest_type, &len) != NULL;
}

uint16_t dnssec_key_tag(const uint8_t *dnskey, uint16_t len)
{
	/* RFC 4034 Appendix B */
	uint32_t ac = 0;
	for (uint16_t i = 0; i < len; i++)
		ac += (i & 1) ? dnskey[i] : (uint32_t)dnskey[i] << 8;
	ac += (ac >> 16) & 0xffff;
	return (uint16_t)(ac & 0xffff);
}

/* ---- canonical form (RFC 4034 6.2, RFC 6840 5.1) ---- */

/* Lowercase the name at *@pos in @rd (@len bytes) and move past it. False
 * when no valid name is there; the RDATA is then left as it is. */
static bool lower_name(uint8_t *rd, size_t len, size_t *pos)
{
	int n = rd_name_len(rd + *pos, len - *pos);
	if (n < 0)
		return false;
	for (int i = 0; i < n;) {
		uint8_t l = rd[*pos + i];
		for (int j = 1; j <= l; j++)
			rd[*pos + i + j] = lower(rd[*pos + i + j]);
		i += 1 + l;
	}
	*pos += (size_t)n;
	return true;
}

static bool skip(size_t len, size_t *pos, size_t n)
{
	if (*pos + n > len)
		return false;
	*pos += n;
	return true;
}

/* RFC 4034 6.2 item 3 as amended by RFC 6840 5.1: the types whose RDATA
 * names are lowercased (HINFO has none, NSEC's next name is kept as is). */
static void canon_rdata(uint16_t type, uint8_t *rd, size_t len)
{
	size_t pos = 0;
	switch (type) {
	case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: /* NS MD MF CNAME MB MG MR PTR */
	case 30: case 39: /* NXT DNAME */
		lower_name(rd, len, &pos);
		break;
	case 6: case 14: case 17: /* SOA MINFO RP */
		if (lower_name(rd, len, &pos))
			lower_name(rd, len, &pos);
		break;
	case 15: case 18: case 21: case 36: /* MX AFSDB RT KX */
		if (skip(len, &pos, 2))
			lower_name(rd, len, &pos);
		break;
	case 26: /* PX */
		if (skip(len, &pos, 2) && lower_name(rd, len, &pos))
			lower_name(rd, len, &pos);
		break;
	case 33: /* SRV */
		if (skip(len, &pos, 6))
			lower_name(rd, len, &pos);
		break;
	case 35: /* NAPTR: order, preference, flags, services, regexp, replacement */
		if (!skip(len, &pos, 4))
			break;
		for (int i = 0; i < 3; i++)
			if (pos >= len || !skip(len, &pos, 1u + rd[pos]))
				return;
		lower_name(rd, len, &pos);
		break;
	case 24: case 46: /* SIG RRSIG */
		if (skip(len, &pos, RRSIG_FIXED))
			lower_name(rd, len, &pos);
		break;
	case 38: /* A6: prefix length, address suffix, prefix name */
		if (len < 1 || rd[0] > 128)
			break;
		if (skip(len, &pos, 1u + (128u - rd[0] + 7) / 8) && rd[0] > 0)
			lower_name(rd, len, &pos);
		break;
	}
}

struct canon_rr {
	const uint8_t *rd;
	uint16_t len;
};

static int canon_cmp(const void *a, const void *b)
{
	const struct canon_rr *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->rd, y->rd, n);
	if (d)
		return d;
	return (int)x->len - (int)y->len;
}

/* The RRset's RDATAs in canonical form and order, duplicates removed
 * (RFC 4034 6.3). Owned by the caller: free(c->buf), free(c->rrs). */
struct canon_set {
	uint8_t *buf;
	struct canon_rr *rrs;
	size_t n, rdata_total;
};

static int canon_set_build(const struct rrset *set, struct canon_set *c)
{
	memset(c, 0, sizeof(*c));
	c->buf = malloc(set->rdata_len ? set->rdata_len : 1);
	c->rrs = malloc(sizeof(*c->rrs) * (set->n_rdata ? set->n_rdata : 1));
	if (!c->buf || !c->rrs)
		return TERN_ELIMIT;

	uint32_t off = 0, at = 0;
	const uint8_t *rd;
	uint16_t len;
	while (c->n < set->n_rdata && rrset_rdata_next(set, &off, &rd, &len)) {
		memcpy(c->buf + at, rd, len);
		canon_rdata(set->type, c->buf + at, len);
		c->rrs[c->n].rd = c->buf + at;
		c->rrs[c->n].len = len;
		c->n++;
		at += len;
	}
	if (c->n == 0)
		return TERN_EMALFORMED;
	qsort(c->rrs, c->n, sizeof(*c->rrs), canon_cmp);
	size_t w = 1;
	for (size_t i = 1; i < c->n; i++)
		if (canon_cmp(&c->rrs[i], &c->rrs[w - 1]) != 0)
			c->rrs[w++] = c->rrs[i];
	c->n = w;
	for (size_t i = 0; i < c->n; i++)
		c->rdata_total += c->rrs[i].len;
	return 0;
}

static void canon_set_free(struct canon_set *c)
{
	free(c->buf);
	free(c->rrs);
}

/* RFC 4034 3.1.8.1: RRSIG_RDATA (without the signature, signer lowercased)
 * then each RR as owner | type | class | original TTL | RDLENGTH | RDATA.
 * Returns a malloc'd buffer (the caller frees) and its length in *@len; size
 * is bounded by the RRset: (n x (owner + 10)) + its RDATA + 18 + 255. */
static uint8_t *signed_data(const struct rrset *set, const struct canon_set *c,
			    const struct rrsig *s, size_t *len)
{
	uint8_t owner[NAME_MAX_WIRE + 2];
	size_t owner_len;
	int owner_labels = name_labels(set->owner);

	if (s->labels < owner_labels) { /* RFC 4035 5.3.2: the wildcard that was expanded */
		const uint8_t *suffix = name_suffix(set->owner, s->labels);
		size_t sl = name_len(suffix);
		owner[0] = 1;
		owner[1] = '*';
		memcpy(owner + 2, suffix, sl);
		owner_len = 2 + sl;
	} else {
		owner_len = name_len(set->owner);
		memcpy(owner, set->owner, owner_len);
	}
	name_lower(owner);

	size_t total = RRSIG_FIXED + (size_t)s->signer_len + c->n * (owner_len + 10) + c->rdata_total;
	uint8_t *buf = malloc(total);
	if (!buf)
		return NULL;
	uint8_t *p = buf;
	memcpy(p, s->rd, RRSIG_FIXED);
	p += RRSIG_FIXED;
	memcpy(p, s->signer, (size_t)s->signer_len);
	name_lower(p);
	p += s->signer_len;
	for (size_t i = 0; i < c->n; i++) {
		memcpy(p, owner, owner_len);
		p += owner_len;
		*p++ = (uint8_t)(set->type >> 8);
		*p++ = (uint8_t)set->type;
		*p++ = 0;
		*p++ = CLASS_IN;
		memcpy(p, s->rd + 4, 4); /* the original TTL */
		p += 4;
		*p++ = (uint8_t)(c->rrs[i].len >> 8);
		*p++ = (uint8_t)c->rrs[i].len;
		memcpy(p, c->rrs[i].rd, c->rrs[i].len);
		p += c->rrs[i].len;
	}
	*len = (size_t)(p - buf);
	return buf;
}

/* ---- verification ---- */

/* How telling a failure is: the reason reported is the highest seen. */
static int reason_rank(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_R_RRSIGS_MISSING: return 0;
	case DNSSEC_R_UNSUPPORTED_ALG: return 1;
	case DNSSEC_R_MALFORMED: return 2;
	case DNSSEC_R_WRONG_SIGNER:
	case DNSSEC_R_BAD_LABELS: return 3;
	case DNSSEC_R_DNSKEY_MISSING: return 4;
	case DNSSEC_R_NO_ZONE_KEY_BIT: return 5;
	case DNSSEC_R_SIG_EXPIRED:
	case DNSSEC_R_SIG_NOT_YET_VALID: return 6;
	case DNSSEC_R_SIG_INVALID: return 7;
	default: return 8;
	}
}

static void note(enum dnssec_reason *best, enum dnssec_reason r)
{
	if (reason_rank(r) > reason_rank(*best))
		*best = r;
}

static enum dnssec_verdict finish(struct dnssec_result *out, enum dnssec_verdict v,
				  enum dnssec_reason r)
{
	out->verdict = v;
	out->reason = r;
	return v;
}

/* True when @dnskeys holds a zone key (allowed by @allowed when given) of a
 * supported algorithm. */
static bool has_supported_key(const struct rrset *dnskeys, const bool *allowed)
{
	uint32_t off = 0;
	const uint8_t *rd;
	uint16_t len;
	for (size_t i = 0; rrset_rdata_next(dnskeys, &off, &rd, &len); i++) {
		struct dnskey k;
		if ((!allowed || allowed[i]) && dnskey_parse(rd, len, &k) &&
		    (k.flags & DNSKEY_FLAG_ZONE) && k.protocol == DNSKEY_PROTOCOL &&
		    dnssec_algorithm_supported(k.alg))
			return true;
	}
	return false;
}

/* dnssec_verify_rrset(), restricted to the keys marked in @allowed (indexed
 * by position in @dnskeys) when it is not NULL. */
static enum dnssec_verdict verify_set(const struct rrset *set, const struct rrset *rrsigs,
				      const struct rrset *dnskeys, const uint8_t *zone,
				      uint64_t now_s, struct dnssec_budget *b,
				      const bool *allowed, struct dnssec_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!set || !set->owner || !zone)
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_MALFORMED);
	if (!dnskeys || dnskeys->n_rdata == 0)
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_DNSKEY_MISSING);
	if (!has_supported_key(dnskeys, allowed))
		return finish(out, DNSSEC_INSECURE, DNSSEC_R_UNSUPPORTED_ALG);
	if (!rrsigs || rrsigs->n_rdata == 0)
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_RRSIGS_MISSING);
	if (!name_is_under(set->owner, zone))
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_WRONG_SIGNER);

	enum dnssec_reason best = DNSSEC_R_RRSIGS_MISSING;
	int owner_labels = name_labels(set->owner);
	unsigned tries = 0;
	bool limited = false, have_canon = false;
	struct canon_set canon;
	enum dnssec_verdict v = DNSSEC_BOGUS;

	uint32_t soff = 0;
	const uint8_t *srd;
	uint16_t slen;
	while (!limited && rrset_rdata_next(rrsigs, &soff, &srd, &slen)) {
		struct rrsig s;
		if (!rrsig_parse(srd, slen, &s)) {
			note(&best, DNSSEC_R_MALFORMED);
			continue;
		}
		if (s.covered != set->type)
			continue;
		/* RFC 4035 5.3.1: cheap checks first */
		if (!name_equal(s.signer, zone)) {
			note(&best, DNSSEC_R_WRONG_SIGNER);
			continue;
		}
		if (s.labels > owner_labels) {
			note(&best, DNSSEC_R_BAD_LABELS);
			continue;
		}
		if (!dnssec_algorithm_supported(s.alg)) {
			note(&best, DNSSEC_R_UNSUPPORTED_ALG);
			continue;
		}
		int64_t inception = serial_time(s.inception, now_s);
		int64_t expiration = serial_time(s.expiration, now_s);
		if (inception > (int64_t)now_s + DNSSEC_CLOCK_SKEW_S) {
			note(&best, DNSSEC_R_SIG_NOT_YET_VALID);
			continue;
		}
		if (expiration < (int64_t)now_s - DNSSEC_CLOCK_SKEW_S) {
			note(&best, DNSSEC_R_SIG_EXPIRED);
			continue;
		}
		if (expiration < inception) {
			note(&best, DNSSEC_R_SIG_INVALID);
			continue;
		}

		uint8_t *data = NULL;
		size_t data_len = 0;
		unsigned same_tag = 0;
		bool matched = false;
		uint32_t koff = 0;
		const uint8_t *krd;
		uint16_t klen;
		for (size_t ki = 0; rrset_rdata_next(dnskeys, &koff, &krd, &klen); ki++) {
			struct dnskey k;
			if (!dnskey_parse(krd, klen, &k) || k.alg != s.alg ||
			    dnssec_key_tag(krd, klen) != s.key_tag)
				continue;
			if (allowed && !allowed[ki])
				continue;
			matched = true;
			if (!(k.flags & DNSKEY_FLAG_ZONE)) {
				note(&best, DNSSEC_R_NO_ZONE_KEY_BIT);
				continue;
			}
			/* RFC 5011 2.1: a revoked key signs only its own revocation */
			if (k.protocol != DNSKEY_PROTOCOL ||
			    ((k.flags & DNSKEY_FLAG_REVOKE) && set->type != TYPE_DNSKEY)) {
				note(&best, DNSSEC_R_DNSKEY_MISSING);
				continue;
			}
			if (same_tag >= DNSSEC_KEYTAG_TRIES_MAX ||
			    tries >= DNSSEC_SIG_CHECKS_PER_RRSET || b->sig_checks_left == 0) {
				limited = true;
				break;
			}
			if (!have_canon) {
				int ret = canon_set_build(set, &canon);
				have_canon = true;
				if (ret != 0) {
					free(data);
					canon_set_free(&canon);
					return finish(out, DNSSEC_BOGUS,
						      ret == TERN_EMALFORMED ? DNSSEC_R_MALFORMED
									     : DNSSEC_R_INTERNAL);
				}
			}
			if (!data && !(data = signed_data(set, &canon, &s, &data_len))) {
				canon_set_free(&canon);
				return finish(out, DNSSEC_BOGUS, DNSSEC_R_INTERNAL);
			}
			same_tag++;
			tries++;
			b->sig_checks_left--;
			b->sig_checks_done++;
			if (dnssec_sig_check(s.alg, k.key, k.key_len, s.sig, s.sig_len, data, data_len)) {
				/* RFC 4035 5.3.3: the TTL is capped by all three and the expiration */
				uint32_t cap = set->ttl_s;
				if (rrsigs->ttl_s < cap)
					cap = rrsigs->ttl_s;
				if (s.orig_ttl < cap)
					cap = s.orig_ttl;
				int64_t left = expiration - (int64_t)now_s;
				if (left < 0)
					left = 0;
				if ((uint64_t)left < cap)
					cap = (uint32_t)left;
				out->ttl_cap_s = cap;
				out->key_tag = s.key_tag;
				out->wildcard_labels = s.labels;
				/* an RRset owned by "*.<suffix>" itself is not an expansion */
				out->wildcard = s.labels < owner_labels &&
						!(s.labels + 1 == owner_labels && set->owner[0] == 1 &&
						  set->owner[1] == '*');
				v = DNSSEC_SECURE;
				best = DNSSEC_R_NONE;
				break;
			}
			note(&best, DNSSEC_R_SIG_INVALID);
		}
		free(data);
		if (v == DNSSEC_SECURE)
			break;
		if (!matched)
			note(&best, DNSSEC_R_DNSKEY_MISSING);
	}
	if (have_canon)
		canon_set_free(&canon);
	if (v == DNSSEC_SECURE)
		return finish(out, v, DNSSEC_R_NONE);
	if (limited)
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_WORK_LIMIT);
	/* RRSIGs only of algorithms we lack, in a zone that has keys we support:
	 * RFC 6840 5.11, no valid path; it is the RRSIG that is missing */
	if (best == DNSSEC_R_UNSUPPORTED_ALG)
		best = DNSSEC_R_RRSIGS_MISSING;
	return finish(out, DNSSEC_BOGUS, best);
}

enum dnssec_verdict dnssec_verify_rrset(const struct rrset *set, const struct rrset *rrsigs,
					const struct rrset *dnskeys, const uint8_t *zone,
					uint64_t now_s, struct dnssec_budget *b,
					struct dnssec_result *out)
{
	return verify_set(set, rrsigs, dnskeys, zone, now_s, b, NULL, out);
}

/* ---- DS and DNSKEY ---- */

struct ds {
	uint16_t key_tag;
	uint8_t alg, digest_type;
	const uint8_t *digest;
	size_t digest_len;
};

static bool ds_parse(const uint8_t *rd, uint16_t len, struct ds *d)
{
	if (len < DS_FIXED + 1)
		return false;
	d->key_tag = get16(rd);
	d->alg = rd[2];
	d->digest_type = rd[3];
	d->digest = rd + DS_FIXED;
	d->digest_len = len - DS_FIXED;
	return true;
}

/* The DS digest of type @type over (@owner, @dnskey) into @out. */
static bool ds_digest(uint8_t type, const uint8_t *owner, const uint8_t *dnskey,
		      uint16_t dnskey_len, uint8_t *out)
{
	uint8_t lower_owner[NAME_MAX_WIRE];
	size_t owner_len = name_len(owner);
	memcpy(lower_owner, owner, owner_len);
	name_lower(lower_owner);
	return dnssec_ds_hash(type, lower_owner, owner_len, dnskey, dnskey_len, out);
}

bool dnssec_ds_matches(const uint8_t *owner, const uint8_t *dnskey, uint16_t dnskey_len,
		       const uint8_t *ds, uint16_t ds_len)
{
	struct ds d;
	struct dnskey k;
	size_t md_len;
	uint8_t digest[EVP_MAX_MD_SIZE];

	if (!ds_parse(ds, ds_len, &d) || !dnskey_parse(dnskey, dnskey_len, &k))
		return false;
	const EVP_MD *md = digest_md(d.digest_type, &md_len);
	if (!md || d.digest_len != md_len || d.alg != k.alg ||
	    d.key_tag != dnssec_key_tag(dnskey, dnskey_len))
		return false;
	if (!ds_digest(d.digest_type, owner, dnskey, dnskey_len, digest))
		return false;
	return CRYPTO_memcmp(digest, d.digest, md_len) == 0;
}

/* A DS we can use: well formed, supported digest of the right length,
 * supported algorithm. */
static bool ds_usable(const struct ds *d)
{
	size_t md_len;
	return digest_md(d->digest_type, &md_len) && d->digest_len == md_len &&
	       dnssec_algorithm_supported(d->alg);
}

enum dnssec_reason dnssec_ds_unusable_reason(const struct rrset *ds)
{
	bool usable = false, digest_ok = false;
	uint32_t off = 0;
	const uint8_t *rd;
	uint16_t len;
	while (ds && rrset_rdata_next(ds, &off, &rd, &len)) {
		struct ds d;
		if (!ds_parse(rd, len, &d))
			continue;
		if (dnssec_digest_supported(d.digest_type))
			digest_ok = true;
		if (ds_usable(&d))
			usable = true;
	}
	if (usable || !ds || ds->n_rdata == 0)
		return DNSSEC_R_NONE;
	return digest_ok ? DNSSEC_R_UNSUPPORTED_ALG : DNSSEC_R_UNSUPPORTED_DIGEST;
}

enum dnssec_verdict dnssec_validate_dnskeys(const struct rrset *dnskeys,
					    const struct rrset *rrsigs, const struct rrset *ds,
					    const struct rrset *anchor_keys, uint64_t now_s,
					    struct dnssec_budget *b, struct dnssec_result *out)
{
	memset(out, 0, sizeof(*out));
	bool have_ds = ds && ds->n_rdata > 0, have_anchor = anchor_keys && anchor_keys->n_rdata > 0;
	if (!have_ds && !have_anchor)
		return finish(out, DNSSEC_INDETERMINATE, DNSSEC_R_NO_TRUST);
	if (!dnskeys || !dnskeys->owner || dnskeys->n_rdata == 0)
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_DNSKEY_MISSING);
	const uint8_t *zone = dnskeys->owner;
	if ((have_ds && !name_equal(ds->owner, zone)) ||
	    (have_anchor && !name_equal(anchor_keys->owner, zone)))
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_DNSKEY_MISSING);

	/* Which DS and anchors can we use at all? */
	bool usable = false, strong = false, digest_ok = false;
	uint32_t off = 0;
	const uint8_t *rd;
	uint16_t len;
	while (have_ds && rrset_rdata_next(ds, &off, &rd, &len)) {
		struct ds d;
		if (!ds_parse(rd, len, &d))
			continue;
		if (dnssec_digest_supported(d.digest_type))
			digest_ok = true;
		if (ds_usable(&d)) {
			usable = true;
			if (d.digest_type != DNSSEC_DIGEST_SHA1)
				strong = true;
		}
	}
	off = 0;
	while (have_anchor && rrset_rdata_next(anchor_keys, &off, &rd, &len)) {
		struct dnskey k;
		digest_ok = true; /* a key anchor needs no digest */
		if (dnskey_parse(rd, len, &k) && (k.flags & DNSKEY_FLAG_ZONE) &&
		    dnssec_algorithm_supported(k.alg))
			usable = true;
	}
	if (!usable) /* RFC 4035 5.2, RFC 6840 5.2: treat the zone as unsigned */
		return finish(out, DNSSEC_INSECURE,
			      digest_ok ? DNSSEC_R_UNSUPPORTED_ALG : DNSSEC_R_UNSUPPORTED_DIGEST);

	bool *allowed = calloc(dnskeys->n_rdata, sizeof(bool));
	if (!allowed)
		return finish(out, DNSSEC_BOGUS, DNSSEC_R_INTERNAL);
	enum dnssec_reason best = DNSSEC_R_DNSKEY_MISSING;
	bool any = false, limited = false;
	uint32_t koff = 0;
	const uint8_t *krd;
	uint16_t klen;
	for (size_t ki = 0; !limited && ki < dnskeys->n_rdata &&
			    rrset_rdata_next(dnskeys, &koff, &krd, &klen);
	     ki++) {
		struct dnskey k;
		if (!dnskey_parse(krd, klen, &k) || !dnssec_algorithm_supported(k.alg))
			continue;
		/* RFC 5011 2.1: a revoked key is no trust anchor, nor a DS's key */
		if (k.flags & DNSKEY_FLAG_REVOKE)
			continue;
		bool match = false;
		/* a DNSKEY anchor: the very same RDATA */
		off = 0;
		while (have_anchor && !match && rrset_rdata_next(anchor_keys, &off, &rd, &len))
			match = len == klen && memcmp(rd, krd, len) == 0;
		/* a DS: same tag and algorithm, then the digest. Several DS may
		 * share a tag; bound the digests per key as for signatures. */
		uint16_t tag = dnssec_key_tag(krd, klen);
		unsigned same_tag = 0;
		off = 0;
		while (have_ds && !match && rrset_rdata_next(ds, &off, &rd, &len)) {
			struct ds d;
			size_t md_len = 0;
			uint8_t digest[EVP_MAX_MD_SIZE];
			if (!ds_parse(rd, len, &d) || !ds_usable(&d) || d.key_tag != tag ||
			    d.alg != k.alg)
				continue;
			if (strong && d.digest_type == DNSSEC_DIGEST_SHA1)
				continue; /* RFC 4509 3: no downgrade to SHA-1 */
			if (same_tag >= DNSSEC_KEYTAG_TRIES_MAX || b->digests_left == 0) {
				limited = true;
				break;
			}
			same_tag++;
			b->digests_left--;
			b->digests_done++;
			(void)digest_md(d.digest_type, &md_len);
			match = ds_digest(d.digest_type, zone, krd, klen, digest) &&
				CRYPTO_memcmp(digest, d.digest, md_len) == 0;
		}
		if (!match)
			continue;
		if (!(k.flags & DNSKEY_FLAG_ZONE) || k.protocol != DNSKEY_PROTOCOL) {
			note(&best, DNSSEC_R_NO_ZONE_KEY_BIT);
			continue;
		}
		allowed[ki] = true;
		any = true;
	}

	enum dnssec_verdict v;
	if (!any)
		v = finish(out, DNSSEC_BOGUS, limited ? DNSSEC_R_WORK_LIMIT : best);
	else
		v = verify_set(dnskeys, rrsigs, dnskeys, zone, now_s, b, allowed, out);
	free(allowed);
	return v;
}
