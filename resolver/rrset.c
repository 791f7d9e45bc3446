/* resolver/rrset: small helpers over struct rrset and struct result. */
#include "resolver/rrset.h"

#include <string.h>

#include "base/arena.h"
#include "cache/cache.h"

void rrset_append(struct rrset **head, struct rrset *s)
{
	s->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = s;
}

struct rrset *rrset_copy(struct arena *a, const struct rrset *s)
{
	struct rrset *c = arena_alloc(a, sizeof(*c));
	if (!c)
		return NULL;
	*c = *s;
	c->next = NULL;
	c->owner = arena_memdup(a, s->owner, name_len(s->owner));
	c->rdata = arena_memdup(a, s->rdata, s->rdata_len);
	c->sigs = s->sigs_len ? arena_memdup(a, s->sigs, s->sigs_len) : NULL;
	c->zone = s->zone ? arena_memdup(a, s->zone, name_len(s->zone)) : NULL;
	if (!c->owner || (s->rdata_len && !c->rdata) || (s->sigs_len && !c->sigs) ||
	    (s->zone && !c->zone))
		return NULL;
	return c;
}

bool rrset_rdata_next(const struct rrset *s, uint32_t *off, const uint8_t **rd, uint16_t *len)
{
	/* FORMAT: cache-payload */
	if (*off + 2 > s->rdata_len)
		return false;
	uint16_t l = (uint16_t)(s->rdata[*off] << 8 | s->rdata[*off + 1]);
	if (*off + 2 + l > s->rdata_len)
		return false;
	*rd = s->rdata + *off + 2;
	*len = l;
	*off += 2u + l;
	return true;
}

const uint8_t *rrset_rdata_first(const struct rrset *s, uint16_t *len)
{
	uint32_t off = 0;
	const uint8_t *rd;
	if (!rrset_rdata_next(s, &off, &rd, len))
		return NULL;
	return rd;
}

struct rrset *rrset_from_entry(struct arena *a, const uint8_t *owner, uint16_t type,
			       const struct cache_entry *e)
{
	struct rrset *s = arena_zalloc(a, sizeof(*s));
	if (!s)
		return NULL;
	s->owner = arena_memdup(a, owner, name_len(owner));
	if (!s->owner)
		return NULL;
	s->type = type;
	s->ttl_s = e->ttl_s;
	s->orig_ttl_s = e->orig_ttl_s;
	s->rank = e->rank;
	s->n_rdata = e->n_rdata;
	s->rdata = (uint8_t *)e->data;
	/* only the RDATAs, not the signatures that follow them */
	uint32_t off = 0;
	const uint8_t *rd;
	uint16_t len;
	for (uint16_t i = 0; i < e->n_rdata; i++)
		if (!rrset_rdata_next(&(struct rrset){ .rdata = (uint8_t *)e->data,
						      .rdata_len = e->data_len },
				      &off, &rd, &len))
			return NULL;
	s->rdata_len = off;
	/* FORMAT: cache-payload: the RRSIGs follow the RDATAs */
	uint32_t sig_start = off;
	for (uint16_t i = 0; i < e->n_sigs; i++)
		if (!rrset_rdata_next(&(struct rrset){ .rdata = (uint8_t *)e->data,
						      .rdata_len = e->data_len },
				      &off, &rd, &len))
			return NULL;
	s->n_sigs = e->n_sigs;
	s->sigs = e->n_sigs ? (uint8_t *)e->data + sig_start : NULL;
	s->sigs_len = off - sig_start;
	s->verdict = e->verdict;
	s->why = e->why;
	return s;
}

struct rrset *rrset_from_negative(struct arena *a, const struct cache_entry *e)
{
	/* FORMAT: cache-payload (negative): SOA owner, u16 rdlen, SOA RDATA */
	if (e->data_len == 0)
		return NULL;
	size_t pos = 0;
	uint8_t owner[NAME_MAX_WIRE];
	if (name_unpack(e->data, e->data_len, &pos, owner) < 0)
		return NULL;
	if (pos + 2 > e->data_len)
		return NULL;
	uint16_t rdlen = (uint16_t)(e->data[pos] << 8 | e->data[pos + 1]);
	if (pos + 2 + rdlen != e->data_len)
		return NULL;
	struct rrset *s = arena_zalloc(a, sizeof(*s));
	if (!s)
		return NULL;
	s->owner = arena_memdup(a, owner, name_len(owner));
	s->type = TYPE_SOA;
	s->ttl_s = e->ttl_s;
	s->rank = e->rank;
	s->verdict = e->verdict;
	s->why = e->why; /* the negative answer's, as cached with it */
	s->n_rdata = 1;
	s->rdata = (uint8_t *)e->data + pos;
	s->rdata_len = 2u + rdlen;
	return s->owner ? s : NULL;
}

struct rrset rrset_sigs_view(const struct rrset *s)
{
	struct rrset v = {
		.owner = s->owner, .type = TYPE_RRSIG, .ttl_s = s->ttl_s, .n_rdata = s->n_sigs,
		.rdata = s->sigs, .rdata_len = s->sigs_len,
	};
	return v;
}

const uint8_t *rrset_signer(const struct rrset *s)
{
	if (s->n_sigs == 0 || s->sigs_len < 2 + 18 + 1)
		return NULL;
	uint16_t len = (uint16_t)(s->sigs[0] << 8 | s->sigs[1]);
	/* RRSIG RDATA: 18 fixed bytes, then the signer's name (RFC 4034 3.1) */
	if (len < 19 || 2u + len > s->sigs_len)
		return NULL;
	const uint8_t *signer = s->sigs + 2 + 18;
	size_t max = len - 18u, n = 0;
	while (n < max && signer[n] != 0) {
		n += 1u + signer[n];
	}
	if (n >= max || n + 1 > NAME_MAX_WIRE)
		return NULL;
	return signer;
}

uint32_t result_min_ttl(const struct result *r)
{
	uint32_t min = UINT32_MAX;
	for (const struct rrset *s = r->answer; s; s = s->next)
		if (s->ttl_s < min)
			min = s->ttl_s;
	for (const struct rrset *s = r->authority; s; s = s->next)
		if (s->ttl_s < min)
			min = s->ttl_s;
	return min;
}
