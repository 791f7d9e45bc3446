/* resolver/aggressive: aggressive use of the DNSSEC-validated cache (RFC 8198).
 * A cached, secure NSEC that covers a name proves it does not exist, and one at
 * the name without the type proves NODATA: such questions are answered from
 * the cache without asking anyone. NSEC only: NSEC3 would cost hashes per
 * question (Unbound also does NSEC only). Zones of two labels and more, where
 * the cache keeps a zone's NSEC chain in one ordered range. */
#include "resolver/aggressive.h"

#include <string.h>

#include "base/arena.h"
#include "cache/cache.h"
#include "resolver/dnssec.h"
#include "resolver/rrset.h"

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
		if (!wild_nsec || name_equal(wild_nsec->owner, wild) ||
		    !dnssec_nsec_covers(wild_nsec->owner, wnext, wild))
			return LOOKUP_PARTIAL;
		if (wild_nsec->ttl_s < ttl)
			ttl = wild_nsec->ttl_s;
		rcode = RCODE_NXDOMAIN;
	}
	/* RFC 8198 5.4: the SOA goes along, its TTL no longer than the proof's */
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
	if (want_proofs) {
		rrset_append(&res->authority, nsec);
		if (wild_nsec && !name_equal(wild_nsec->owner, nsec->owner))
			rrset_append(&res->authority, wild_nsec);
	}
	return LOOKUP_COMPLETE;
}
