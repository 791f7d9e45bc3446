/* resolver/aggressive: aggressive use of the DNSSEC-validated cache (RFC 8198).
 * A cached, secure NSEC that covers a name proves it does not exist, and one at
 * the name without the type proves NODATA: such questions are answered from
 * the cache without asking anyone. NSEC, and NSEC3 at the cost of a few
 * hashes per question (two per ancestor, within the DNSSEC work budget; the
 * proof itself is dnssec_nsec.c's, as for an answer from upstream). Wildcard
 * NODATA is proven the same way, and a cached wildcard expansion goes to a DO
 * client with the cached proof that no closer name exists. Zones of
 * two labels and more, where the cache keeps a zone's chain in one ordered
 * range. */
#include "resolver/aggressive.h"

#include <string.h>

#include "base/arena.h"
#include "cache/cache.h"
#include "resolver/dnssec.h"
#include "resolver/rrset.h"
#include "resolver/store.h"

/* A fresh, secure NSEC at or before @name in zone @zone: its rrset, and its
 * next name and bitmap (borrowed from it). */
static struct rrset *nsec_before(struct cache *c, struct arena *a, uint64_t now,
				 const uint8_t *zone, const uint8_t *name, const uint8_t **next,
				 const uint8_t **bitmap, uint16_t *bitmap_len)
{
	uint8_t owner[NAME_MAX_WIRE];
	struct cache_entry e;
	if (cache_find_nsec(c, zone, name, now, a, owner, &e) != 0 || e.kind != CACHE_RRSET ||
	    e.verdict != VERDICT_SECURE || e.n_rdata != 1)
		return NULL;
	struct rrset *s = rrset_from_entry(a, owner, TYPE_NSEC, &e);
	uint16_t len;
	const uint8_t *rd = s ? rrset_rdata_first(s, &len) : NULL;
	if (!rd || dnssec_nsec_parse(rd, len, next, bitmap, bitmap_len) < 0)
		return NULL;
	return s;
}

/* An NSEC at a delegation (NS without SOA) or a DNAME says nothing about names
 * below it (RFC 4035 5.4, RFC 8198 5.1). */
static bool is_cut(const uint8_t *bitmap, uint16_t len)
{
	return (dnssec_bitmap_has(bitmap, len, TYPE_NS) && !dnssec_bitmap_has(bitmap, len, TYPE_SOA)) ||
	       dnssec_bitmap_has(bitmap, len, TYPE_DNAME);
}

static const uint8_t *closest_encloser(const uint8_t *name, const uint8_t *a, const uint8_t *b)
{
	/* the longest ancestor of @name that is an ancestor-or-self of @a or @b */
	for (const uint8_t *p = name_parent(name); p; p = name_parent(p))
		if (name_is_under(a, p) || name_is_under(b, p))
			return p;
	return NULL;
}

static enum lookup_outcome with_soa(struct cache *c, struct arena *a, uint64_t now,
				    const uint8_t *zone, uint8_t rcode, uint32_t ttl,
				    struct rrset *proofs, bool want_proofs, struct result *res);

/* The RRSIG labels field of the first RRSIG over @s, or -1. */
static int rrsig_labels(const struct rrset *s)
{
	struct rrset sigs = rrset_sigs_view(s);
	uint16_t len;
	const uint8_t *rd = rrset_rdata_first(&sigs, &len);
	return rd && len > 4 ? rd[3] : -1;
}

/* A cached, secure RRset (@name, @qtype) expanded from the wildcard at
 * closest encloser @ce (RRSIG labels = @ce's labels), or NULL. A DO client
 * gets it with the proof that no closer match exists (RFC 4035 3.1.3.3),
 * which is not cached with it but found here like any other proof. */
static struct rrset *cached_expansion(struct cache *c, struct arena *a, uint64_t now,
				      const uint8_t *name, uint16_t qtype, const uint8_t *ce)
{
	struct cache_entry e;
	if (qtype == TYPE_ANY || cache_find(c, name, qtype, now, a, &e) != 0 ||
	    e.kind != CACHE_RRSET || e.verdict != VERDICT_SECURE)
		return NULL;
	struct rrset *s = rrset_from_entry(a, name, qtype, &e);
	if (!s || rrsig_labels(s) != name_labels(ce))
		return NULL;
	return s;
}

/* A positive answer: the cached expansion @ans, with @proofs behind it. */
static enum lookup_outcome with_expansion(struct rrset *ans, uint32_t ttl, struct rrset *proofs,
					  bool want_proofs, struct result *res)
{
	if (ans->ttl_s > ttl)
		ans->ttl_s = ttl;
	ans->next = NULL;
	res->rcode = RCODE_NOERROR;
	res->secure = true;
	res->answer = ans;
	res->authority = want_proofs ? proofs : NULL;
	return LOOKUP_COMPLETE;
}

#define NSEC3_NAMES_MAX 8 /* ancestors of a name looked at for its NSEC3 proof */

static const char BASE32HEX[] = "0123456789abcdefghijklmnopqrstuv"; /* RFC 4648 7 */

/* The NSEC3 owner name for @hash in @zone: base32hex label, then the zone. */
static int nsec3_owner(const uint8_t *hash, int len, const uint8_t *zone, uint8_t out[NAME_MAX_WIRE])
{
	int chars = (len * 8 + 4) / 5;
	if (chars > LABEL_MAX || 1 + chars + name_len(zone) > NAME_MAX_WIRE)
		return -1;
	out[0] = (uint8_t)chars;
	for (int i = 0; i < chars; i++) {
		int bit = i * 5, v = 0;
		for (int k = 0; k < 5; k++, bit++)
			v = v << 1 | (bit < len * 8 ? (hash[bit / 8] >> (7 - bit % 8)) & 1 : 0);
		out[1 + i] = (uint8_t)BASE32HEX[v];
	}
	memcpy(out + 1 + chars, zone, name_len(zone));
	return 0;
}

static struct rrset *secure_before(struct cache *c, struct arena *a, uint64_t now,
				   const uint8_t *zone, const uint8_t *name, uint16_t type)
{
	uint8_t owner[NAME_MAX_WIRE];
	struct cache_entry e;
	if (cache_find_before(c, zone, name, type, now, a, owner, &e) != 0 ||
	    e.kind != CACHE_RRSET || e.verdict != VERDICT_SECURE || e.n_rdata != 1)
		return NULL;
	return rrset_from_entry(a, owner, type, &e);
}

/* NSEC3: gather the cached records around the hashes of the name, its
 * ancestors and their wildcards, and let the proof decide. */
static enum lookup_outcome aggressive_nsec3(struct cache *c, struct arena *a, uint64_t now,
					    const uint8_t *zone, const uint8_t *name, uint16_t qtype,
					    bool want_proofs, struct result *res)
{
	/* the chain's parameters, from its last record */
	uint8_t last[NAME_MAX_WIRE] = { 32 };
	memset(last + 1, 'v', 32);
	memcpy(last + 33, zone, name_len(zone));
	struct rrset *any = secure_before(c, a, now, zone, last, TYPE_NSEC3);
	uint16_t len;
	const uint8_t *rd = any ? rrset_rdata_first(any, &len) : NULL;
	struct nsec3_rdata p;
	if (!rd || dnssec_nsec3_parse(rd, len, &p) < 0 || (p.flags & 1) ||
	    p.iterations > DNSSEC_NSEC3_ITERATIONS_MAX)
		return LOOKUP_PARTIAL; /* opt-out or costly chains: ask upstream */
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	struct rrset *proofs = NULL;
	uint32_t ttl = UINT32_MAX;
	int n = 0;
	for (const uint8_t *cn = name; cn && name_is_under(cn, zone) && n < NSEC3_NAMES_MAX;
	     cn = name_parent(cn), n++) {
		uint8_t wild[NAME_MAX_WIRE] = { 1, '*' };
		const uint8_t *names[2] = { cn, NULL };
		if (name_len(cn) + 2 <= NAME_MAX_WIRE) {
			memcpy(wild + 2, cn, name_len(cn));
			names[1] = wild;
		}
		for (int k = 0; k < 2 && names[k]; k++) {
			uint8_t hash[NSEC3_HASH_MAX], owner[NAME_MAX_WIRE];
			int hl = dnssec_nsec3_hash(names[k], p.alg, p.iterations, p.salt, p.salt_len, &b,
						   hash);
			if (hl < 0 || nsec3_owner(hash, hl, zone, owner) < 0)
				return LOOKUP_PARTIAL;
			struct rrset *r3 = secure_before(c, a, now, zone, owner, TYPE_NSEC3);
			if (!r3 || store_find(proofs, r3->owner, TYPE_NSEC3))
				continue;
			r3->next = proofs;
			proofs = r3;
			if (r3->ttl_s < ttl)
				ttl = r3->ttl_s;
		}
		if (name_equal(cn, zone))
			break;
	}
	if (!proofs)
		return LOOKUP_PARTIAL;
	struct dnssec_denial d;
	if (dnssec_prove_nxdomain(name, zone, proofs, &b, &d) == DNSSEC_SECURE)
		return with_soa(c, a, now, zone, RCODE_NXDOMAIN, ttl, proofs, want_proofs, res);
	if (dnssec_prove_nodata(name, qtype, zone, proofs, &b, &d) == DNSSEC_SECURE &&
	    (d.proof == DNSSEC_PROOF_NODATA || d.proof == DNSSEC_PROOF_WILDCARD_NODATA))
		return with_soa(c, a, now, zone, RCODE_NOERROR, ttl, proofs, want_proofs, res);
	/* a wildcard expansion we hold: the next closer name must not exist */
	for (const uint8_t *ce = name_parent(name); ce && name_is_under(ce, zone); ce = name_parent(ce)) {
		struct rrset *ans = cached_expansion(c, a, now, name, qtype, ce);
		if (!ans)
			continue;
		if (dnssec_prove_wildcard(name, (uint8_t)name_labels(ce), zone, proofs, &b, &d) ==
		    DNSSEC_SECURE)
			return with_expansion(ans, ttl, proofs, want_proofs, res);
		break;
	}
	return LOOKUP_PARTIAL;
}

static enum lookup_outcome aggressive_nsec(struct cache *c, struct arena *a, uint64_t now,
					   const uint8_t *zone, const uint8_t *name, uint16_t qtype,
					   bool want_proofs, struct result *res);

enum lookup_outcome aggressive_lookup(struct cache *c, struct arena *a, uint64_t now,
				      const uint8_t *name, uint16_t qtype, bool want_proofs,
				      struct result *res)
{
	uint8_t zone[NAME_MAX_WIRE];
	struct cache_entry e;
	if (cache_find_cut(c, name, now, a, zone, &e) != 0 || name_labels(zone) < 2 ||
	    name_equal(zone, name))
		return LOOKUP_PARTIAL;
	if (cache_find(c, zone, TYPE_DNSKEY, now, a, &e) != 0 || e.verdict != VERDICT_SECURE)
		return LOOKUP_PARTIAL; /* not a zone whose proofs we have checked */
	enum lookup_outcome o = aggressive_nsec(c, a, now, zone, name, qtype, want_proofs, res);
	if (o == LOOKUP_PARTIAL)
		o = aggressive_nsec3(c, a, now, zone, name, qtype, want_proofs, res);
	return o;
}

static enum lookup_outcome aggressive_nsec(struct cache *c, struct arena *a, uint64_t now,
					   const uint8_t *zone, const uint8_t *name, uint16_t qtype,
					   bool want_proofs, struct result *res)
{
	struct cache_entry e;
	const uint8_t *next, *bitmap;
	uint16_t bitmap_len;
	struct rrset *nsec = nsec_before(c, a, now, zone, name, &next, &bitmap, &bitmap_len);
	if (!nsec)
		return LOOKUP_PARTIAL;
	struct rrset *wild_nsec = NULL;
	uint8_t rcode;
	uint32_t ttl = nsec->ttl_s;
	if (name_equal(nsec->owner, name)) {
		if (is_cut(bitmap, bitmap_len) || dnssec_bitmap_has(bitmap, bitmap_len, qtype) ||
		    dnssec_bitmap_has(bitmap, bitmap_len, TYPE_CNAME))
			return LOOKUP_PARTIAL;
		rcode = RCODE_NOERROR; /* NODATA */
	} else {
		if (!dnssec_nsec_covers(nsec->owner, next, name) ||
		    (is_cut(bitmap, bitmap_len) && name_is_under(name, nsec->owner)))
			return LOOKUP_PARTIAL;
		/* no wildcard at the closest encloser may match either (RFC 4035 5.4) */
		const uint8_t *ce = closest_encloser(name, nsec->owner, next);
		if (!ce || !name_is_under(ce, zone) || name_len(ce) + 2 > NAME_MAX_WIRE)
			return LOOKUP_PARTIAL;
		uint8_t wild[NAME_MAX_WIRE] = { 1, '*' };
		memcpy(wild + 2, ce, name_len(ce));
		const uint8_t *wnext, *wbitmap;
		uint16_t wbitmap_len;
		wild_nsec = nsec_before(c, a, now, zone, wild, &wnext, &wbitmap, &wbitmap_len);
		if (!wild_nsec)
			return LOOKUP_PARTIAL;
		if (wild_nsec->ttl_s < ttl)
			ttl = wild_nsec->ttl_s;
		if (name_equal(wild_nsec->owner, wild)) {
			/* the wildcard exists (RFC 4035 5.3.4, 5.4): it answers */
			if (is_cut(wbitmap, wbitmap_len) ||
			    dnssec_bitmap_has(wbitmap, wbitmap_len, TYPE_CNAME))
				return LOOKUP_PARTIAL;
			if (dnssec_bitmap_has(wbitmap, wbitmap_len, qtype)) {
				struct rrset *ans = cached_expansion(c, a, now, name, qtype, ce);
				if (!ans)
					return LOOKUP_PARTIAL;
				nsec->next = NULL; /* no closer match: the NSEC that covers the name */
				return with_expansion(ans, ttl, nsec, want_proofs, res);
			}
			rcode = RCODE_NOERROR; /* wildcard NODATA: both NSECs */
		} else {
			if (!dnssec_nsec_covers(wild_nsec->owner, wnext, wild))
				return LOOKUP_PARTIAL;
			rcode = RCODE_NXDOMAIN;
		}
	}
	if (wild_nsec && !name_equal(wild_nsec->owner, nsec->owner))
		nsec->next = wild_nsec;
	else
		nsec->next = NULL;
	(void)e;
	return with_soa(c, a, now, zone, rcode, ttl, nsec, want_proofs, res);
}

/* RFC 8198 5.4: the SOA goes along, its TTL no longer than the proofs'. */
static enum lookup_outcome with_soa(struct cache *c, struct arena *a, uint64_t now,
				    const uint8_t *zone, uint8_t rcode, uint32_t ttl,
				    struct rrset *proofs, bool want_proofs, struct result *res)
{
	struct cache_entry e;
	if (cache_find(c, zone, TYPE_SOA, now, a, &e) != 0 || e.kind != CACHE_RRSET ||
	    e.verdict != VERDICT_SECURE)
		return LOOKUP_PARTIAL;
	struct rrset *soa = rrset_from_entry(a, zone, TYPE_SOA, &e);
	if (!soa)
		return LOOKUP_NOMEM;
	if (soa->ttl_s > ttl)
		soa->ttl_s = ttl;
	res->rcode = rcode;
	res->secure = true;
	res->answer = NULL;
	rrset_append(&res->authority, soa);
	if (want_proofs)
		soa->next = proofs; /* the proofs follow the SOA */
	return LOOKUP_COMPLETE;
}
