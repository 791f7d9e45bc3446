/* resolver/fastpath: see fastpath.h. Every check the full path makes on a
 * query is made here too (or the query is left to the full path), so that both
 * give the same answer to the same bytes; test_fastpath.py compares them. */
#include "resolver/fastpath.h"

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "base/clock.h"
#include "cache/cache.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/dnssec.h"
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
	bool validating;
	/* results */
	size_t len;        /* of the reply */
	size_t rr_end;     /* end of the answer records */
	uint32_t ttl_s, orig_ttl_s;
	uint8_t verdict;
	uint8_t why;       /* the entry's reason, insecure: its EDE goes in the OPT */
	uint16_t n_rr;
	uint16_t ede;      /* begin_reply(): the EDE option's info code, or EDE_NONE */
	uint16_t ede_text_len;
	const char *ede_text;
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

/* ---- the memo -----------------------------------------------------------
 * A hit costs a lookup in LMDB (key encoding, shard hash, B-tree descent: some
 * 2,000 instructions, three quarters of the fast path). The memo keeps, per
 * worker, the answer records last built for a question, with the cache_ref of
 * the entry they came from: while no write since the read has touched that
 * entry's bucket of write generations (cache_ref_current: one load from the
 * shard's shared generations, cache/gen.h), the records are those a read
 * would give, and only the TTLs move (counted down here as the cache counts
 * them). A write to the name, by any thread or process, or to a name that
 * shares its bucket (one in some 64K of the shard), sends the next query back
 * to LMDB, which refills the memo; writes to other names do not. The memo is
 * a copy of what the cache says, never more: no answer comes from it that the
 * cache would not give at that moment.
 * Sets of MEMO_WAYS slots, picked by a seeded multiplicative hash of the
 * lowercased name and type; the sets' tags sit apart from the slots, four to a
 * cache line, so that a lookup touches one line of tags and then only the slot
 * that matches. Names are chosen by clients: colliding ones only push each
 * other out, and a miss costs what the lookup costs without a memo. */
#define MEMO_SETS 2048
#define MEMO_WAYS 4
#define MEMO_SLOT_BYTES 256

struct memo_slot {
	struct cache_ref ref;
	uint32_t orig_ttl_s;
	uint16_t qtype;
	uint16_t n_rr;
	uint16_t rr_len;
	uint8_t name_len;    /* wire length, the root label included */
	uint8_t verdict;
	uint8_t why;
	uint8_t pad[3];
	/* the name lowercased and zero-padded to whole words (as struct fp_query
	 * has it), then the answer records as build() writes them */
	uint64_t data[(MEMO_SLOT_BYTES - sizeof(struct cache_ref) - 16) / 8];
};
_Static_assert(sizeof(struct memo_slot) == MEMO_SLOT_BYTES, "memo slot size");

struct memo_set {
	_Alignas(64) uint64_t tag[MEMO_WAYS]; /* hash of name and type, never 0; 0: an empty way */
	uint8_t victim;          /* the way the next store replaces */
};
_Static_assert(sizeof(struct memo_set) == 64, "a memo set is one cache line");

struct fp_memo {
	uint64_t seed;
	/* whether the batch holds cache snapshots */
	bool held;
	/* the last client address the ACL allowed (the config never changes) */
	sa_family_t allowed_family;
	uint8_t allowed_addr[16];
	struct memo_set set[MEMO_SETS];
	struct memo_slot slot[MEMO_SETS][MEMO_WAYS];
};

/* ASCII A-Z to a-z in eight bytes at once (label lengths, below 64, stay). */
static inline uint64_t lower8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t low7 = x & (0x7f * ones);
	uint64_t above_z = low7 + (0x80 - 'Z' - 1) * ones; /* bit 7 set: > 'Z' */
	uint64_t from_a = low7 + (0x80 - 'A') * ones;       /* bit 7 set: >= 'A' */
	uint64_t upper = (from_a ^ above_z) & ~x & (0x80 * ones);
	return x | upper >> 2;
}

/* The client address bytes of @peer (4 or 16), or 0 for another family. */
static size_t peer_addr(const struct sockaddr *peer, const uint8_t **addr)
{
	if (peer->sa_family == AF_INET) {
		*addr = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
		return 4;
	}
	if (peer->sa_family == AF_INET6) {
		*addr = (const uint8_t *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
		return 16;
	}
	return 0;
}

/* config_acl_allows(), remembering the last address allowed: a batch mostly
 * comes from a few clients. */
static bool acl_allows(struct worker *w, struct fp_memo *m, const struct sockaddr *peer)
{
	const uint8_t *addr;
	size_t n = peer_addr(peer, &addr);
	if (m && n == 4 && m->allowed_family == AF_INET) {
		uint32_t a, b;
		memcpy(&a, addr, 4);
		memcpy(&b, m->allowed_addr, 4);
		if (a == b)
			return true;
	} else if (m && n == 16 && m->allowed_family == AF_INET6 && !memcmp(m->allowed_addr, addr, 16)) {
		return true;
	}
	if (!config_acl_allows(w->cfg, peer))
		return false;
	if (m && n) {
		m->allowed_family = peer->sa_family;
		memcpy(m->allowed_addr, addr, n);
	}
	return true;
}

static struct fp_memo *memo_of(struct worker *w)
{
	if (w->fp_memo)
		return w->fp_memo;
	/* 2 MB of address space, zero, page-aligned (the sets on cache lines);
	 * pages become memory as slots fill */
	void *p = mmap(NULL, sizeof(struct fp_memo), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct fp_memo *m = p;
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m ^ clock_mono_ms();
	w->fp_memo = m;
	return m;
}

void fastpath_free(struct worker *w)
{
	if (w->fp_memo)
		munmap(w->fp_memo, sizeof(struct fp_memo));
	w->fp_memo = NULL;
}

static inline size_t memo_set_of(uint64_t tag)
{
	return (size_t)(tag >> 40) & (MEMO_SETS - 1);
}

static inline size_t words_of(size_t name_len)
{
	return (name_len + 7) / 8;
}

static inline bool memo_is(const struct memo_slot *s, const uint64_t *lname, size_t name_len,
			   uint16_t qtype)
{
	if (s->qtype != qtype || s->name_len != name_len)
		return false;
	uint64_t diff = 0;
	for (size_t i = 0; i < words_of(name_len); i++)
		diff |= s->data[i] ^ lname[i];
	return diff == 0;
}

/* The answer records of @s. */
static inline uint8_t *memo_records(struct memo_slot *s)
{
	return (uint8_t *)(s->data + words_of(s->name_len));
}

/* Copy the records of @c->out (as build() left them) into the memo. */
static void memo_store(struct fp_memo *m, uint64_t tag, const uint64_t *lname, size_t name_len,
		       uint16_t qtype, const struct fp_ctx *c, const struct cache_ref *ref)
{
	size_t rr_len = c->rr_end - c->q_end;
	if (words_of(name_len) * 8 + rr_len > sizeof(m->slot[0][0].data))
		return;
	size_t i = memo_set_of(tag);
	struct memo_set *set = &m->set[i];
	int k = 0;
	while (k < MEMO_WAYS && set->tag[k] != 0 &&
	       !(set->tag[k] == tag && memo_is(&m->slot[i][k], lname, name_len, qtype)))
		k++;
	if (k == MEMO_WAYS) {
		k = set->victim;
		set->victim = (uint8_t)((k + 1) % MEMO_WAYS);
	}
	struct memo_slot *s = &m->slot[i][k];
	set->tag[k] = tag;
	s->ref = *ref;
	s->orig_ttl_s = c->orig_ttl_s;
	s->qtype = qtype;
	s->n_rr = c->n_rr;
	s->rr_len = (uint16_t)rr_len;
	s->name_len = (uint8_t)name_len;
	s->verdict = c->verdict;
	s->why = c->why;
	memcpy(s->data, lname, words_of(name_len) * 8);
	memcpy(memo_records(s), c->out + c->q_end, rr_len);
}

static struct memo_slot *memo_find(struct fp_memo *m, uint64_t tag, const uint64_t *lname,
				   size_t name_len, uint16_t qtype)
{
	size_t i = memo_set_of(tag);
	struct memo_set *set = &m->set[i];
	for (int k = 0; k < MEMO_WAYS; k++) {
		if (set->tag[k] != tag || !memo_is(&m->slot[i][k], lname, name_len, qtype))
			continue;
		if (set->victim == k) /* used: not the next to go */
			set->victim = (uint8_t)((k + 1) % MEMO_WAYS);
		return &m->slot[i][k];
	}
	return NULL;
}

/* Header, question and OPT of a reply with @n_rr answer records of @rr_len
 * bytes, from an entry with @verdict and @why; the records go at c->q_end.
 * 0: it does not fit @c->cap. */
static int begin_reply(struct fp_ctx *c, uint16_t n_rr, size_t rr_len, uint8_t verdict,
		       uint8_t why)
{
	size_t opt_len = c->has_opt ? 11 : 0;
	c->ede = EDE_NONE;
	if (c->has_opt && c->validating && verdict == VERDICT_INSECURE && why != DNSSEC_R_NONE) {
		/* RFC 8914: why it is insecure (EDE 1, 2, 27), as lookup.c finish()
		 * and answer.c give it on the full path */
		c->ede = dnssec_reason_ede(why);
		if (c->ede != EDE_NONE) {
			c->ede_text = dnssec_reason_text(why);
			c->ede_text_len = (uint16_t)strnlen(c->ede_text, EDE_TEXT_MAX);
			opt_len += 6u + c->ede_text_len;
		}
	}
	if (c->q_end + rr_len + opt_len > c->cap)
		return 0; /* does not fit: the full path truncates properly */
	uint8_t *o = c->out;
	memcpy(o, c->q, c->q_end);
	uint16_t flags = FLAG_QR | FLAG_RA | (c->flags_in & (FLAG_RD | FLAG_CD));
	if (c->validating && verdict == VERDICT_SECURE && (c->flags_in & FLAG_AD))
		flags |= FLAG_AD; /* RFC 6840 5.8 */
	put16(o + 2, flags);
	put16(o + 6, n_rr);
	put16(o + 8, 0);
	put16(o + 10, c->has_opt ? 1 : 0);
	return 1;
}

/* The OPT record after the answers, which end at @pos; sets c->len. */
static void end_reply(struct fp_ctx *c, size_t pos)
{
	c->rr_end = pos;
	if (c->has_opt) {
		/* RFC 6891: root owner, OPT, our UDP size, rcode 0, version 0, no flags */
		uint8_t *o = c->out + pos;
		o[0] = 0;
		put16(o + 1, TYPE_OPT);
		put16(o + 3, c->edns_size);
		put32(o + 5, 0);
		put16(o + 9, 0);
		pos += 11;
		if (c->ede != EDE_NONE) {
			/* the one option: EDE, info code, extra text */
			put16(o + 9, (uint16_t)(6u + c->ede_text_len));
			put16(o + 11, EDNS_OPT_EDE);
			put16(o + 13, (uint16_t)(2u + c->ede_text_len));
			put16(o + 15, c->ede);
			memcpy(o + 17, c->ede_text, c->ede_text_len);
			pos += 6u + c->ede_text_len;
		}
	}
	c->len = pos;
}

/* The reply from memo slot @s, TTLs counted down to @now_s as cache_read()
 * counts them. */
static int build_memo(struct fp_ctx *c, struct memo_slot *s, uint64_t now_s)
{
	if (!begin_reply(c, s->n_rr, s->rr_len, s->verdict, s->why))
		return 0;
	uint64_t left_s = s->ref.expire_s - now_s;
	uint32_t ttl = left_s > s->orig_ttl_s ? s->orig_ttl_s : (uint32_t)left_s;
	uint8_t *o = c->out + c->q_end;
	memcpy(o, memo_records(s), s->rr_len);
	/* FORMAT: each record is c0 0c, type, class, TTL, rdlen, rdata */
	if (s->n_rr == 1)
		put32(o + 6, ttl);
	else
		for (size_t p = 0; p + 12 <= s->rr_len; p += 12u + (uint16_t)(o[p + 10] << 8 | o[p + 11]))
			put32(o + p + 6, ttl);
	end_reply(c, c->q_end + s->rr_len);
	c->ttl_s = ttl;
	c->orig_ttl_s = s->orig_ttl_s;
	return 1;
}

/* Called with the entry still in the cache's map: write the reply. */
static int build(void *arg, const struct cache_entry *e)
{
	struct fp_ctx *c = arg;
	/* glue and referrals are no answer (RFC 2181 5.4.1; see lookup.c) */
	if (e->kind != CACHE_RRSET || e->n_rdata == 0 || e->rank < RANK_AUTHORITY)
		return 0;
	/* validating: only data with a verdict, and never bogus, takes this path */
	if (c->validating && e->verdict != VERDICT_SECURE && e->verdict != VERDICT_INSECURE)
		return 0;
	/* the records' size: 12 bytes of owner pointer, type, class, TTL, rdlen each */
	const uint8_t *d = e->data;
	size_t rr_len = 0;
	uint32_t off = 0;
	for (uint16_t i = 0; i < e->n_rdata; i++) {
		/* FORMAT: cache-payload: (u16 rdlen, rdata) */
		if (off + 2 > e->data_len)
			return 0;
		uint16_t rdlen = (uint16_t)(d[off] << 8 | d[off + 1]);
		if (off + 2u + rdlen > e->data_len)
			return 0;
		rr_len += 12u + rdlen;
		off += 2u + rdlen;
	}
	if (!begin_reply(c, e->n_rdata, rr_len, e->verdict, e->why))
		return 0;
	uint8_t *o = c->out;
	size_t pos = c->q_end;
	off = 0;
	uint16_t type = (uint16_t)(c->q[c->q_end - 4] << 8 | c->q[c->q_end - 3]);
	for (uint16_t i = 0; i < e->n_rdata; i++) {
		uint16_t rdlen = (uint16_t)(d[off] << 8 | d[off + 1]);
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
	end_reply(c, pos);
	c->ttl_s = e->ttl_s;
	c->orig_ttl_s = e->orig_ttl_s;
	c->verdict = e->verdict;
	c->why = e->why;
	c->n_rr = e->n_rdata;
	return 1;
}

void fastpath_parse(struct worker *w, const uint8_t *q, size_t q_len, struct fp_query *fq)
{
	fq->plain = false;
	if (q_len < DNS_HDR_LEN + 5 || q_len > UINT16_MAX)
		return;
	uint16_t flags = (uint16_t)(q[2] << 8 | q[3]);
	/* a query, opcode QUERY, one question, nothing else but maybe an OPT */
	if ((flags & (FLAG_QR | 0x7800)) || q[4] != 0 || q[5] != 1 || q[6] | q[7] | q[8] | q[9] ||
	    q[10] != 0 || q[11] > 1)
		return;
	bool has_opt = q[11] == 1;
	size_t pos = DNS_HDR_LEN;
	for (;;) {
		uint8_t l = q[pos];
		if (l == 0)
			break;
		if (l > LABEL_MAX || pos + 1u + l >= q_len || pos + 1u + l - DNS_HDR_LEN >= NAME_MAX_WIRE)
			return; /* compressed, too long or cut short: the full path decides */
		pos += 1u + l;
	}
	pos++;
	if (pos + 4 > q_len)
		return;
	uint16_t qtype = (uint16_t)(q[pos] << 8 | q[pos + 1]);
	uint16_t qclass = (uint16_t)(q[pos + 2] << 8 | q[pos + 3]);
	pos += 4;
	size_t q_end = pos;
	if (qclass != CLASS_IN || qtype == 0 || qtype == TYPE_OPT || qtype >= TYPE_IXFR)
		return;
	const struct config *cfg = w->cfg;
	size_t reply_max = UDP_PLAIN_MAX;
	if (has_opt) {
		/* root owner, type OPT, version 0, options filling the RDATA exactly */
		if (pos + 11 > q_len || q[pos] != 0 || q[pos + 1] != 0 || q[pos + 2] != TYPE_OPT ||
		    q[pos + 6] != 0)
			return;
		if (q[pos + 7] & (EDNS_FLAG_DO >> 8))
			return; /* DO: RRSIGs go along, the full path adds them */
		uint16_t udp = (uint16_t)(q[pos + 3] << 8 | q[pos + 4]);
		uint16_t rdlen = (uint16_t)(q[pos + 9] << 8 | q[pos + 10]);
		pos += 11;
		size_t opt_end = pos + rdlen;
		while (pos < opt_end) {
			if (pos + 4 > opt_end)
				return;
			pos += 4u + (uint16_t)(q[pos + 2] << 8 | q[pos + 3]);
		}
		if (pos != opt_end)
			return;
		if (udp < UDP_PLAIN_MAX)
			udp = UDP_PLAIN_MAX;
		reply_max = udp < cfg->edns_udp_size ? udp : cfg->edns_udp_size;
	}
	if (pos != q_len)
		return; /* trailing bytes: FORMERR comes from the full path */
	/* the name lowercased (label lengths stay) in whole words, zero-padded, and its tag */
	size_t name_len = q_end - 4 - DNS_HDR_LEN;
	size_t n_words = (name_len + 7) / 8;
	struct fp_memo *m = memo_of(w);
	const uint64_t mul = 0x9e3779b97f4a7c15ULL;
	uint64_t h = (m ? m->seed : 0) ^ qtype;
	const uint8_t *name = q + DNS_HDR_LEN;
	/* whole words loaded as such (a copy then a load stalls the CPU); the
	 * last one cut at the name's end, the rest zero */
	size_t last = n_words - 1, left = name_len - 8 * last;
	for (size_t i = 0; i < last; i++) {
		uint64_t x;
		memcpy(&x, name + 8 * i, 8);
		x = lower8(x);
		fq->lname[i] = x;
		h = (h ^ x) * mul;
		h ^= h >> 29;
	}
	uint64_t x;
	size_t skip = 0;
	if (DNS_HDR_LEN + 8 * last + 8 <= q_len) {
		memcpy(&x, name + 8 * last, 8);
	} else {
		/* the query ends within 8 bytes: the 8 that end it, shifted (q_len
		 * is at least 17, so they start within @q) */
		skip = DNS_HDR_LEN + 8 * last - (q_len - 8);
		memcpy(&x, q + q_len - 8, 8);
	}
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x <<= 8 * skip;
	if (left < 8)
		x &= ~(~0ULL >> (8 * left));
#else
	x >>= 8 * skip;
	if (left < 8)
		x &= (1ULL << (8 * left)) - 1;
#endif
	x = lower8(x);
	fq->lname[last] = x;
	h = (h ^ x) * mul;
	h ^= h >> 29;
	fq->tag = (h * mul) | 1;
	fq->plain = true;
	fq->has_opt = has_opt;
	fq->name_len = (uint8_t)name_len;
	fq->flags = flags;
	fq->qtype = qtype;
	fq->q_end = (uint16_t)q_end;
	fq->reply_max = (uint16_t)reply_max;
	if (m)
		__builtin_prefetch(&m->set[memo_set_of(fq->tag)]);
}

void fastpath_batch_begin(struct worker *w)
{
	(void)w; /* nothing per batch: memo slots are checked one by one */
}

void fastpath_batch_end(struct worker *w)
{
	struct fp_memo *m = w->fp_memo;
	if (m && m->held) {
		cache_read_release(w->cache);
		m->held = false;
	}
}

void fastpath_prefetch(struct worker *w, const struct fp_query *fq)
{
	struct fp_memo *m = w->fp_memo;
	if (!fq->plain || !m)
		return;
	size_t i = memo_set_of(fq->tag);
	for (int k = 0; k < MEMO_WAYS; k++) {
		if (m->set[i].tag[k] == fq->tag) {
			/* the header and name, then the records */
			__builtin_prefetch(&m->slot[i][k]);
			__builtin_prefetch((const uint8_t *)&m->slot[i][k] + 64);
			return;
		}
	}
}

size_t fastpath_answer(struct worker *w, const uint8_t *q, size_t q_len, const struct fp_query *fq,
		       const struct sockaddr *peer, uint64_t now_s, uint8_t *out, size_t cap)
{
	if (!fq->plain)
		return 0;
	const struct config *cfg = w->cfg;
	struct fp_memo *m = memo_of(w);
	if (!acl_allows(w, m, peer))
		return 0;
	/* a policy sees every query: on a cache hit, on_query runs below */
	bool policy = cfg->policy_path || cfg->n_tenants;
	struct fp_ctx c = {
		.q = q, .q_end = fq->q_end, .has_opt = fq->has_opt, .flags_in = fq->flags, .out = out,
		.cap = fq->reply_max < cap ? fq->reply_max : cap, .edns_size = cfg->edns_udp_size,
		.validating = cfg->dnssec,
	};
	uint16_t qtype = fq->qtype;
	const uint64_t *lname = fq->lname;
	struct memo_slot *s = m ? memo_find(m, fq->tag, lname, fq->name_len, qtype) : NULL;
	bool memo = s && s->ref.expire_s > now_s && cache_ref_current(w->cache, &s->ref);
	if (memo) {
		if (!build_memo(&c, s, now_s))
			return 0;
	} else {
		struct cache_ref ref;
		if (m && !m->held) /* one snapshot per shard for the rest of the batch */
			m->held = cache_read_hold(w->cache) == 0;
		if (cache_read_ref(w->cache, q + DNS_HDR_LEN, qtype, now_s, build, &c, &ref) != 1)
			return 0;
		if (m)
			memo_store(m, fq->tag, lname, fq->name_len, qtype, &c, &ref);
	}
	/* anything but pass: the full path answers, the script's verdict handed over */
	if (policy && policy_fast_query(w, q, q_len, peer) != POLICY_FAST_PASS)
		return 0;
	w->stats.cache_hits++;
	w->stats.memo_hits += memo;
	w->stats.answers++;
	if (cfg->prefetch && resolution_wants_prefetch(c.ttl_s, c.orig_ttl_s))
		resolution_prefetch(w, q + DNS_HDR_LEN, qtype);
	return c.len;
}
