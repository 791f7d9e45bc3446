/* resolver/store: reply sections to RRsets, and RRsets to the cache. */
#include "resolver/store.h"

#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "cache/cache.h"
#include "resolver/config.h"
#include "resolver/dnssec.h"

_Static_assert(DNSSEC_R_INTERNAL <= CACHE_WHY_MAX, "every reason fits cache_entry.why");

static _Thread_local uint8_t rdata_tmp[65536];

static uint32_t clamp_ttl(const struct config *cfg, uint32_t ttl)
{
	if (ttl & 0x80000000u)
		ttl = 0; /* RFC 2181 8: a TTL with the top bit set is zero */
	if (ttl > cfg->ttl_max_s)
		ttl = cfg->ttl_max_s;
	if (ttl < cfg->ttl_min_s)
		ttl = cfg->ttl_min_s;
	return ttl;
}

struct group {
	uint8_t owner[NAME_MAX_WIRE];
	uint16_t type;
	uint16_t covered; /* RRSIG groups: the type they cover; 0 otherwise */
	uint32_t ttl;
	uint16_t n;
};

struct rr_ref {
	struct rr_view rr;
	uint16_t group;
};

/* Unpack the records of group @g into rdata_tmp, duplicates dropped
 * (RFC 2181 5). Returns the bytes used, or a negative error; *@n the count. */
static long pack_group(const struct msg *m, const struct rr_ref *refs, int n_refs, int g,
		       uint16_t *n)
{
	size_t used = 0;
	*n = 0;
	for (int i = 0; i < n_refs; i++) {
		if (refs[i].group != g)
			continue;
		if (used + 2 > sizeof(rdata_tmp))
			break;
		int len = rr_rdata_unpack(m, &refs[i].rr, rdata_tmp + used + 2,
					  sizeof(rdata_tmp) - used - 2);
		if (len == TERN_ESPACE)
			break;
		if (len < 0)
			return TERN_EMALFORMED;
		bool dup = false;
		for (size_t off = 0; off < used;) {
			uint16_t l = (uint16_t)(rdata_tmp[off] << 8 | rdata_tmp[off + 1]);
			if (l == len && memcmp(rdata_tmp + off + 2, rdata_tmp + used + 2, l) == 0) {
				dup = true;
				break;
			}
			off += 2u + l;
		}
		if (dup)
			continue;
		rdata_tmp[used] = (uint8_t)(len >> 8);
		rdata_tmp[used + 1] = (uint8_t)len;
		used += 2u + (size_t)len;
		(*n)++;
	}
	return (long)used;
}

struct rrset *store_section(struct arena *a, const struct msg *m, enum section sec,
			    const uint8_t *bailiwick, const struct config *cfg, uint8_t rank,
			    int *err)
{
	/* scratch space per thread: a reply's grouping never outlives this call */
	static _Thread_local struct group groups[SECTION_RRSETS_MAX];
	static _Thread_local struct rr_ref refs[SECTION_RRS_MAX];
	int n_groups = 0, n_refs = 0;
	struct rr_iter it;
	struct rr_view rr;
	rr_iter_init(m, &it, sec);
	while (n_refs < SECTION_RRS_MAX && rr_next(m, &it, &rr)) {
		if (rr.type == TYPE_OPT || rr.rclass != CLASS_IN)
			continue;
		uint16_t covered = 0;
		if (rr.type == TYPE_RRSIG) {
			if (rr.rdlen < 18)
				continue; /* cannot even say what it covers */
			covered = (uint16_t)(m->wire[rr.rdata_at] << 8 | m->wire[rr.rdata_at + 1]);
		}
		uint8_t owner[NAME_MAX_WIRE];
		if (rr_owner(m, &rr, owner) < 0) {
			*err = TERN_EMALFORMED;
			return NULL;
		}
		if (!name_is_under(owner, bailiwick))
			continue; /* out of bailiwick: never believed (RFC 5452 6) */
		int g;
		for (g = n_groups - 1; g >= 0; g--)
			if (groups[g].type == rr.type && groups[g].covered == covered &&
			    name_equal(groups[g].owner, owner))
				break;
		if (g < 0) {
			if (n_groups == SECTION_RRSETS_MAX)
				continue;
			g = n_groups++;
			memcpy(groups[g].owner, owner, name_len(owner));
			name_lower(groups[g].owner);
			groups[g].type = rr.type;
			groups[g].covered = covered;
			groups[g].ttl = UINT32_MAX;
			groups[g].n = 0;
		}
		uint32_t ttl = clamp_ttl(cfg, rr.ttl);
		if (ttl < groups[g].ttl)
			groups[g].ttl = ttl; /* RFC 2181 5.2: one TTL per RRset, the lowest */
		groups[g].n++;
		refs[n_refs].rr = rr;
		refs[n_refs].group = (uint16_t)g;
		n_refs++;
	}
	struct rrset *list = NULL, **tail = &list;
	for (int g = 0; g < n_groups; g++) {
		if (groups[g].type == TYPE_RRSIG)
			continue;
		uint16_t n;
		long used = pack_group(m, refs, n_refs, g, &n);
		if (used < 0) {
			*err = (int)used;
			return NULL;
		}
		struct rrset *s = arena_zalloc(a, sizeof(*s));
		if (!s) {
			*err = TERN_ELIMIT;
			return NULL;
		}
		s->owner = arena_memdup(a, groups[g].owner, name_len(groups[g].owner));
		s->rdata = arena_memdup(a, rdata_tmp, (size_t)used);
		if (!s->owner || (used && !s->rdata)) {
			*err = TERN_ELIMIT;
			return NULL;
		}
		s->type = groups[g].type;
		s->ttl_s = groups[g].ttl;
		s->orig_ttl_s = groups[g].ttl;
		s->rank = rank;
		s->n_rdata = n;
		s->rdata_len = (uint32_t)used;
		s->zone = bailiwick;
		*tail = s;
		tail = &s->next;
	}
	/* RRSIGs go with the RRset they cover (RFC 4035 5.3) */
	for (int g = 0; g < n_groups; g++) {
		if (groups[g].type != TYPE_RRSIG)
			continue;
		struct rrset *s = store_find(list, groups[g].owner, groups[g].covered);
		if (!s || s->n_sigs)
			continue;
		uint16_t n;
		long used = pack_group(m, refs, n_refs, g, &n);
		if (used < 0) {
			*err = (int)used;
			return NULL;
		}
		s->sigs = arena_memdup(a, rdata_tmp, (size_t)used);
		if (used && !s->sigs) {
			*err = TERN_ELIMIT;
			return NULL;
		}
		s->n_sigs = n;
		s->sigs_len = (uint32_t)used;
	}
	return list;
}

struct rrset *store_find(struct rrset *list, const uint8_t *name, uint16_t type)
{
	for (struct rrset *s = list; s; s = s->next)
		if (s->type == type && name_equal(s->owner, name))
			return s;
	return NULL;
}

struct rrset *store_find_owner(struct rrset *list, const uint8_t *name)
{
	for (struct rrset *s = list; s; s = s->next)
		if (name_equal(s->owner, name))
			return s;
	return NULL;
}

/* The reason cached with a verdict: only an insecure or bogus one has one
 * (the cache refuses any other). */
static uint8_t entry_why(uint8_t verdict, uint8_t why)
{
	if (verdict != VERDICT_INSECURE && verdict != VERDICT_BOGUS)
		return 0;
	return why <= CACHE_WHY_MAX ? why : 0;
}

void store_rrsets(struct cache *c, struct arena *a, const struct rrset *list, uint64_t now_s)
{
	size_t n = 0;
	for (const struct rrset *s = list; s; s = s->next)
		n++;
	if (n == 0)
		return;
	struct cache_put *puts = arena_zalloc(a, n * sizeof(*puts));
	if (!puts)
		return;
	size_t i = 0;
	for (const struct rrset *s = list; s; s = s->next, i++) {
		puts[i].name = s->owner;
		puts[i].type = s->type;
		puts[i].entry.kind = CACHE_RRSET;
		puts[i].entry.rank = s->rank;
		puts[i].entry.ttl_s = s->ttl_s;
		puts[i].entry.n_rdata = s->n_rdata;
		puts[i].entry.verdict = s->verdict;
		puts[i].entry.why = entry_why(s->verdict, s->why);
		puts[i].entry.data = s->rdata;
		puts[i].entry.data_len = s->rdata_len;
		if (s->n_sigs) {
			/* FORMAT: cache-payload: RDATAs, then RRSIGs */
			uint8_t *both = arena_alloc(a, s->rdata_len + s->sigs_len);
			if (!both)
				continue;
			memcpy(both, s->rdata, s->rdata_len);
			memcpy(both + s->rdata_len, s->sigs, s->sigs_len);
			puts[i].entry.data = both;
			puts[i].entry.data_len = s->rdata_len + s->sigs_len;
			puts[i].entry.n_sigs = s->n_sigs;
		}
	}
	cache_stash_many(c, puts, n, now_s);
}

uint32_t store_negative_ttl(const struct config *cfg, const struct rrset *soa)
{
	uint16_t len;
	const uint8_t *rd = rrset_rdata_first(soa, &len);
	if (!rd || len < 22)
		return 0;
	/* SOA RDATA: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM */
	size_t mlen = name_len(rd);
	if (mlen + 2 > len)
		return 0;
	size_t rlen = name_len(rd + mlen);
	if (mlen + rlen + 20 != len)
		return 0;
	const uint8_t *p = rd + mlen + rlen + 16;
	uint32_t minimum = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	uint32_t ttl = soa->ttl_s < minimum ? soa->ttl_s : minimum; /* RFC 2308 5 */
	if (ttl > cfg->neg_ttl_max_s)
		ttl = cfg->neg_ttl_max_s;
	return ttl;
}

void store_negative(struct cache *c, struct arena *a, const struct config *cfg,
		    const uint8_t *name, uint16_t qtype, bool nxdomain, const struct rrset *soa,
		    uint8_t rank, uint8_t verdict, uint64_t now_s)
{
	if (!soa)
		return;
	uint32_t ttl = store_negative_ttl(cfg, soa);
	uint16_t rdlen;
	const uint8_t *rd = rrset_rdata_first(soa, &rdlen);
	if (!rd || ttl == 0)
		return;
	/* FORMAT: cache-payload (negative): SOA owner, u16 rdlen, SOA RDATA */
	size_t olen = name_len(soa->owner);
	uint8_t *data = arena_alloc(a, olen + 2 + rdlen);
	if (!data)
		return;
	memcpy(data, soa->owner, olen);
	data[olen] = (uint8_t)(rdlen >> 8);
	data[olen + 1] = (uint8_t)rdlen;
	memcpy(data + olen + 2, rd, rdlen);
	struct cache_entry e = {
		.kind = nxdomain ? CACHE_NXDOMAIN : CACHE_NODATA,
		.rank = rank,
		.verdict = verdict,
		.why = entry_why(verdict, soa->why),
		.ttl_s = ttl,
		.data = data,
		.data_len = (uint32_t)(olen + 2 + rdlen),
	};
	cache_stash(c, name, nxdomain ? CACHE_TYPE_NXDOMAIN : qtype, &e, now_s);
}
