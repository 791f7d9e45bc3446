/* resolver/fastpath: see fastpath.h. Every check the full path makes on a
 * query is made here too (or the query is left to the full path), so that both
 * give the same answer to the same bytes; test_fastpath.py compares them. */
#include "resolver/fastpath.h"

#include <string.h>

#include "base/clock.h"
#include "cache/cache.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/policy.h"
#include "resolver/resolution.h"
#include "resolver/worker.h"

#define UDP_PLAIN_MAX 512

struct fp_ctx {
	const uint8_t *q;
	size_t q_end;      /* end of the question */
	bool has_opt;
	uint16_t flags_in;
	uint8_t *out;
	size_t cap;
	uint16_t edns_size; /* what we advertise */
	size_t len;        /* result */
	uint32_t ttl_s, orig_ttl_s;
	bool validating;
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Called with the entry still in the cache's map: write the reply. */
static int build(void *arg, const struct cache_entry *e)
{
	struct fp_ctx *c = arg;
	if (e->kind != CACHE_RRSET || e->n_rdata == 0)
		return 0;
	/* validating: only data with a verdict, and never bogus, takes this path */
	if (c->validating && e->verdict != VERDICT_SECURE && e->verdict != VERDICT_INSECURE)
		return 0;
	/* signed yet insecure (an algorithm or digest we do not validate): the
	 * full path finds the extended error (RFC 8914) a fresh answer had */
	if (c->validating && e->verdict == VERDICT_INSECURE && e->n_sigs > 0)
		return 0;
	size_t need = c->q_end + (c->has_opt ? 11 : 0);
	if (need > c->cap)
		return 0;
	uint8_t *o = c->out;
	memcpy(o, c->q, c->q_end);
	uint16_t flags = FLAG_QR | FLAG_RA | (c->flags_in & (FLAG_RD | FLAG_CD));
	if (c->validating && e->verdict == VERDICT_SECURE && (c->flags_in & FLAG_AD))
		flags |= FLAG_AD; /* RFC 6840 5.8 */
	put16(o + 2, flags);
	put16(o + 6, e->n_rdata);
	put16(o + 8, 0);
	put16(o + 10, c->has_opt ? 1 : 0);
	size_t pos = c->q_end;
	size_t limit = c->cap - (c->has_opt ? 11 : 0);
	const uint8_t *d = e->data;
	uint32_t off = 0;
	uint16_t type = (uint16_t)(c->q[c->q_end - 4] << 8 | c->q[c->q_end - 3]);
	for (uint16_t i = 0; i < e->n_rdata; i++) {
		/* FORMAT: cache-payload: (u16 rdlen, rdata) */
		if (off + 2 > e->data_len)
			return 0;
		uint16_t rdlen = (uint16_t)(d[off] << 8 | d[off + 1]);
		if (off + 2u + rdlen > e->data_len || pos + 12u + rdlen > limit)
			return 0; /* does not fit: the full path truncates properly */
		o[pos] = 0xc0; /* the owner is the question's name, at offset 12 */
		o[pos + 1] = DNS_HDR_LEN;
		put16(o + pos + 2, type);
		put16(o + pos + 4, CLASS_IN);
		put32(o + pos + 6, e->ttl_s);
		put16(o + pos + 10, rdlen);
		memcpy(o + pos + 12, d + off + 2, rdlen);
		pos += 12u + rdlen;
		off += 2u + rdlen;
	}
	if (c->has_opt) {
		/* RFC 6891: root owner, OPT, our UDP size, rcode 0, version 0, no flags */
		static const uint8_t opt_head[3] = { 0, 0, TYPE_OPT };
		memcpy(o + pos, opt_head, 3);
		put16(o + pos + 3, c->edns_size);
		put32(o + pos + 5, 0);
		put16(o + pos + 9, 0);
		pos += 11;
	}
	c->len = pos;
	c->ttl_s = e->ttl_s;
	c->orig_ttl_s = e->orig_ttl_s;
	return 1;
}

size_t fastpath_answer(struct worker *w, const uint8_t *q, size_t q_len, const struct sockaddr *peer,
		       uint8_t *out, size_t cap)
{
	if (q_len < DNS_HDR_LEN + 5 || q_len > UINT16_MAX)
		return 0;
	uint16_t flags = (uint16_t)(q[2] << 8 | q[3]);
	/* a query, opcode QUERY, one question, nothing else but maybe an OPT */
	if ((flags & (FLAG_QR | 0x7800)) || q[4] != 0 || q[5] != 1 || q[6] | q[7] | q[8] | q[9] ||
	    q[10] != 0 || q[11] > 1)
		return 0;
	bool has_opt = q[11] == 1;
	size_t pos = DNS_HDR_LEN;
	for (;;) {
		uint8_t l = q[pos];
		if (l == 0)
			break;
		if (l > LABEL_MAX || pos + 1u + l >= q_len || pos + 1u + l - DNS_HDR_LEN >= NAME_MAX_WIRE)
			return 0; /* compressed, too long or cut short: the full path decides */
		pos += 1u + l;
	}
	pos++;
	if (pos + 4 > q_len)
		return 0;
	uint16_t qtype = (uint16_t)(q[pos] << 8 | q[pos + 1]);
	uint16_t qclass = (uint16_t)(q[pos + 2] << 8 | q[pos + 3]);
	pos += 4;
	size_t q_end = pos;
	if (qclass != CLASS_IN || qtype == 0 || qtype == TYPE_OPT || qtype >= TYPE_IXFR)
		return 0;
	const struct config *cfg = w->cfg;
	size_t reply_max = UDP_PLAIN_MAX;
	if (has_opt) {
		/* root owner, type OPT, version 0, options filling the RDATA exactly */
		if (pos + 11 > q_len || q[pos] != 0 || q[pos + 1] != 0 || q[pos + 2] != TYPE_OPT ||
		    q[pos + 6] != 0)
			return 0;
		if (q[pos + 7] & (EDNS_FLAG_DO >> 8))
			return 0; /* DO: RRSIGs go along, the full path adds them */
		uint16_t udp = (uint16_t)(q[pos + 3] << 8 | q[pos + 4]);
		uint16_t rdlen = (uint16_t)(q[pos + 9] << 8 | q[pos + 10]);
		pos += 11;
		size_t opt_end = pos + rdlen;
		while (pos < opt_end) {
			if (pos + 4 > opt_end)
				return 0;
			pos += 4u + (uint16_t)(q[pos + 2] << 8 | q[pos + 3]);
		}
		if (pos != opt_end)
			return 0;
		if (udp < UDP_PLAIN_MAX)
			udp = UDP_PLAIN_MAX;
		reply_max = udp < cfg->edns_udp_size ? udp : cfg->edns_udp_size;
	}
	if (pos != q_len)
		return 0; /* trailing bytes: FORMERR comes from the full path */
	if (!config_acl_allows(cfg, peer))
		return 0;
	/* a policy sees every query: on a cache hit, on_query runs below */
	bool policy = cfg->policy_path || cfg->n_tenants;
	struct fp_ctx c = {
		.q = q, .q_end = q_end, .has_opt = has_opt, .flags_in = flags, .out = out,
		.cap = reply_max < cap ? reply_max : cap, .edns_size = cfg->edns_udp_size,
		.validating = cfg->dnssec,
	};
	if (cache_read(w->cache, q + DNS_HDR_LEN, qtype, clock_wall_s(), build, &c) != 1)
		return 0;
	/* anything but pass: the full path answers, the script's verdict handed over */
	if (policy && policy_fast_query(w, q, q_len, peer) != POLICY_FAST_PASS)
		return 0;
	w->stats.cache_hits++;
	w->stats.answers++;
	if (cfg->prefetch && resolution_wants_prefetch(c.ttl_s, c.orig_ttl_s))
		resolution_prefetch(w, q + DNS_HDR_LEN, qtype);
	return c.len;
}
