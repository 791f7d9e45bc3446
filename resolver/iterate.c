/* resolver/iterate: the state machine; see iterate.h. Each case of the switch
 * in iterate_run() is one state; the helpers above it are what the states do.
 * This file decides whom to ask and whether to believe the reply; storing is
 * store.c's job and the sockets are the worker's. */
#include "resolver/iterate.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "cache/cache.h"
#include "resolver/config.h"
#include "resolver/lookup.h"
#include "resolver/resolution.h"
#include "resolver/servers.h"
#include "resolver/store.h"
#include "resolver/upstream.h"
#include "resolver/validate.h"
#include "resolver/worker.h"

#define UPSTREAM_EDNS_SIZE 1232 /* DNS flag day 2020: no IP fragmentation */

static enum step fail(struct resolution *r, uint16_t ede, const char *text)
{
	log_debug("resolution depth %d: SERVFAIL in state %d (%s), %d servers at the cut",
		  r->depth, (int)r->istate, text ? text : "-", r->cut.n_servers);
	r->result.rcode = RCODE_SERVFAIL;
	r->result.ede = ede;
	r->result.ede_text = text;
	r->result.answer = NULL;
	r->result.authority = NULL;
	return STEP_FAIL;
}

static bool addr_usable(const struct resolution *r, const struct sockaddr *sa)
{
	const struct config *cfg = r->w->cfg;
	if (sa->sa_family == AF_INET && !cfg->upstream_ipv4)
		return false;
	if (sa->sa_family == AF_INET6 && !cfg->upstream_ipv6)
		return false;
	/* a public delegation to loopback is an attack or a mistake */
	if (!cfg->allow_loopback_upstream && addr_is_loopback(sa))
		return false;
	if (sa->sa_family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		if (b[0] == 0 || b[0] >= 224)
			return false; /* this-network, multicast, reserved, broadcast */
	}
	return true;
}

static void server_add_addr(struct resolution *r, struct server *s, uint16_t type,
			    const uint8_t *rd, uint16_t len)
{
	if (s->n_addrs >= SERVER_ADDRS_MAX)
		return;
	struct server_addr *a = &s->addrs[s->n_addrs];
	memset(a, 0, sizeof(*a));
	if (type == TYPE_A && len == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(53);
		memcpy(&in->sin_addr, rd, 4);
		a->len = sizeof(*in);
	} else if (type == TYPE_AAAA && len == 16) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(53);
		memcpy(&in6->sin6_addr, rd, 16);
		a->len = sizeof(*in6);
	} else {
		return;
	}
	if (addr_usable(r, (struct sockaddr *)&a->ss))
		s->n_addrs++;
}

/* Addresses of the cut's servers that the cache knows now. */
static void refresh_addrs(struct resolution *r)
{
	struct zone_cut *cut = &r->cut;
	uint64_t now_s = clock_wall_s();
	for (int i = 0; i < cut->n_servers; i++) {
		struct server *s = &cut->servers[i];
		if (s->n_addrs > 0)
			continue;
		static const uint16_t types[] = { TYPE_A, TYPE_AAAA };
		for (int t = 0; t < 2; t++) {
			struct cache_entry e;
			if (cache_find(r->w->cache, s->name, types[t], now_s, r->arena, &e) != 0 ||
			    e.kind != CACHE_RRSET)
				continue;
			struct rrset set = { .rdata = (uint8_t *)e.data, .rdata_len = e.data_len };
			uint32_t off = 0;
			const uint8_t *rd;
			uint16_t len;
			for (uint16_t k = 0; k < e.n_rdata && rrset_rdata_next(&set, &off, &rd, &len); k++)
				server_add_addr(r, s, types[t], rd, len);
		}
	}
}

/* Empty r->cut, with room for @n servers (at most CUT_SERVERS_MAX; less if
 * the arena is out of room: cut->cap says how many). */
static void cut_reset(struct resolution *r, size_t n)
{
	struct zone_cut *cut = &r->cut;
	if (n > CUT_SERVERS_MAX)
		n = CUT_SERVERS_MAX;
	if (n > cut->cap) {
		struct server *servers = arena_alloc(r->arena, n * sizeof(*servers));
		if (servers) {
			cut->servers = servers;
			cut->cap = (uint8_t)n;
		}
	}
	if (cut->cap)
		memset(cut->servers, 0, cut->cap * sizeof(*cut->servers));
	cut->zone[0] = 0;
	cut->n_servers = 0;
	cut->n_fetches = 0;
	cut->from_hints = false;
}

static void cut_from_hints(struct resolution *r)
{
	const struct config *cfg = r->w->cfg;
	struct zone_cut *cut = &r->cut;
	cut_reset(r, (size_t)cfg->n_hints);
	cut->from_hints = true;
	for (int i = 0; i < cfg->n_hints; i++) {
		const struct hint *h = &cfg->hints[i];
		struct server *s = NULL;
		for (int k = 0; k < cut->n_servers; k++)
			if (name_equal(cut->servers[k].name, h->name))
				s = &cut->servers[k];
		if (!s) {
			if (cut->n_servers == cut->cap)
				continue;
			s = &cut->servers[cut->n_servers++];
			memcpy(s->name, h->name, name_len(h->name));
		}
		if (s->n_addrs < SERVER_ADDRS_MAX && h->len <= sizeof(union upstream_addr) &&
		    addr_usable(r, (const struct sockaddr *)&h->ss)) {
			memcpy(&s->addrs[s->n_addrs].ss, &h->ss, h->len);
			s->addrs[s->n_addrs].len = h->len;
			s->n_addrs++;
		}
	}
}

/* Fill r->cut from @e, the NS RRset cached at @zone. */
static bool cut_from_entry(struct resolution *r, const uint8_t *zone, const struct cache_entry *e_in)
{
	struct cache_entry e = *e_in;
	struct zone_cut *cut = &r->cut;
	cut_reset(r, e.n_rdata);
	memcpy(cut->zone, zone, name_len(zone));
	struct rrset set = { .rdata = (uint8_t *)e.data, .rdata_len = e.data_len };
	uint32_t off = 0;
	const uint8_t *rd;
	uint16_t len;
	for (uint16_t k = 0; k < e.n_rdata && rrset_rdata_next(&set, &off, &rd, &len); k++) {
		if (cut->n_servers == cut->cap)
			break;
		if (len == 0 || len > NAME_MAX_WIRE || name_len(rd) != len)
			continue;
		memcpy(cut->servers[cut->n_servers++].name, rd, len);
	}
	/* shuffle, so that equal servers share the load and no order is relied on */
	for (int i = cut->n_servers - 1; i > 0; i--) {
		int j = (int)arc4random_uniform((uint32_t)i + 1);
		struct server tmp = cut->servers[i];
		cut->servers[i] = cut->servers[j];
		cut->servers[j] = tmp;
	}
	refresh_addrs(r);
	return cut->n_servers > 0;
}

/* Fill r->cut from the NS RRset cached at exactly @zone. */
static bool cut_from_cache(struct resolution *r, const uint8_t *zone)
{
	struct cache_entry e;
	if (cache_find(r->w->cache, zone, TYPE_NS, clock_wall_s(), r->arena, &e) != 0 ||
	    e.kind != CACHE_RRSET)
		return false;
	return cut_from_entry(r, zone, &e);
}

static void cut_entered(struct resolution *r)
{
	r->qmin_labels = name_labels(r->cut.zone) + 1;
	r->qmin_steps = 0;
	r->qmin_off = r->w->cfg->qmin == QMIN_OFF;
}

static bool cut_has_addrs(const struct resolution *r)
{
	for (int i = 0; i < r->cut.n_servers; i++)
		if (r->cut.servers[i].n_addrs > 0)
			return true;
	return false;
}

/* Replace the cut by the closest one above it (in the cache, or the hints). */
static bool cut_above(struct resolution *r)
{
	uint8_t parent[NAME_MAX_WIRE];
	const uint8_t *p = name_parent(r->cut.zone);
	if (!p)
		return false;
	memcpy(parent, p, name_len(p));
	uint8_t zone[NAME_MAX_WIRE];
	struct cache_entry e;
	if (cache_find_cut(r->w->cache, parent, clock_wall_s(), r->arena, zone, &e) == 0 &&
	    cut_from_entry(r, zone, &e)) {
		cut_entered(r);
		return true;
	}
	cut_from_hints(r);
	cut_entered(r);
	return true;
}

enum find_cut { CUT_FOUND, CUT_NEED_PRIMING };

static enum find_cut find_cut(struct resolution *r)
{
	const uint8_t *name = r->sname;
	/* DS lives at the parent side of a cut (RFC 4035 3.1.4.1) */
	if (r->qtype == TYPE_DS && name[0] != 0)
		name = name_parent(name);
	/* the deepest ancestor with a fresh NS set: ordered lookups in the cache */
	uint8_t zone[NAME_MAX_WIRE];
	struct cache_entry e;
	if (name && cache_find_cut(r->w->cache, name, clock_wall_s(), r->arena, zone, &e) == 0 &&
	    cut_from_entry(r, zone, &e)) {
		cut_entered(r);
		return CUT_FOUND;
	}
	bool is_priming = r->qtype == TYPE_NS && r->sname[0] == 0;
	if (is_priming || r->primed) {
		cut_from_hints(r);
		cut_entered(r);
		return CUT_FOUND;
	}
	return CUT_NEED_PRIMING;
}

/* After a minimised query found no cut: does the cache know one below r's cut,
 * above the name, that another resolution learned meanwhile? Then r goes
 * there instead of asking the old cut one label more (RFC 9156 steps that the
 * cache answers). */
static bool cut_below_cached(struct resolution *r)
{
	if (r->n_redelegations > 0)
		return false; /* r left that cut for its parent on purpose (ITER_ADDRS) */
	const uint8_t *name = r->sname;
	if (r->qtype == TYPE_DS && name[0] != 0)
		name = name_parent(name);
	uint8_t zone[NAME_MAX_WIRE];
	struct cache_entry e;
	if (!name || cache_find_cut(r->w->cache, name, clock_wall_s(), r->arena, zone, &e) != 0 ||
	    name_labels(zone) <= name_labels(r->cut.zone) || !name_is_under(zone, r->cut.zone))
		return false;
	cut_from_entry(r, zone, &e); /* if it comes out empty, ITER_ADDRS goes above it */
	cut_entered(r);
	return true;
}

/* Is @r the address of a name server, asked for by parent resolutions only?
 * No client waits on it: a client asking the same question gets the
 * authoritative answer (RFC 2181 5.4.1), never glue. */
static bool is_addr_fetch(const struct resolution *r)
{
	if (r->depth == 0 || (r->qtype != TYPE_A && r->qtype != TYPE_AAAA) ||
	    !name_equal(r->sname, r->qname) || !r->waiters)
		return false;
	for (const struct waiter *wt = r->waiters; wt; wt = wt->next)
		if (wt->req)
			return false;
	return true;
}

/* For an NS-address fetch: the address the cache holds for the name at any
 * rank, glue included, is what a parent reading its cut would use (it reads
 * the cache the same way, refresh_addrs()): end with it, no query for it. */
static bool addr_fetch_from_cache(struct resolution *r)
{
	if (!is_addr_fetch(r))
		return false;
	struct cache_entry e;
	if (cache_find(r->w->cache, r->sname, r->qtype, clock_wall_s(), r->arena, &e) != 0 ||
	    e.kind != CACHE_RRSET || e.n_rdata == 0)
		return false;
	struct rrset *s = rrset_from_entry(r->arena, r->sname, r->qtype, &e);
	if (!s)
		return false;
	rrset_append(&r->result.answer, s);
	r->result.rcode = RCODE_NOERROR;
	return true;
}

/* Start sub-resolutions for the addresses of servers that have none. */
static int fetch_addrs(struct resolution *r)
{
	struct zone_cut *cut = &r->cut;
	const struct config *cfg = r->w->cfg;
	int started = 0;
	for (int i = 0; i < cut->n_servers && cut->n_fetches < NS_FETCH_MAX; i++) {
		struct server *s = &cut->servers[i];
		if (s->n_addrs > 0 || s->fetching || r->n_children >= CHILDREN_MAX)
			continue;
		s->fetching = true;
		/* an NS name inside its own zone needs glue: asking that zone is a loop */
		if (name_is_under(s->name, cut->zone) && cut->zone[0] != 0) {
			s->fetch_failed = true;
			continue;
		}
		if (name_is_under(s->name, cut->zone) && cut->zone[0] == 0 && cut->from_hints) {
			s->fetch_failed = true;
			continue;
		}
		uint16_t type = cfg->upstream_ipv4 ? TYPE_A : TYPE_AAAA;
		struct resolution *child = resolution_get(r->w, s->name, type, r, r->budget);
		if (!child || resolution_add_child(r, child) < 0) {
			s->fetch_failed = true;
			continue;
		}
		cut->n_fetches++;
		started++;
		if (started == 2)
			break; /* two at a time: most zones need only one address */
	}
	return started;
}

static struct server_addr *pick_addr(struct resolution *r)
{
	struct zone_cut *cut = &r->cut;
	uint64_t now = clock_mono_ms();
	struct server_addr *best = NULL;
	uint64_t best_score = UINT64_MAX;
	for (int i = 0; i < cut->n_servers; i++) {
		struct server *s = &cut->servers[i];
		for (int k = 0; k < s->n_addrs; k++) {
			struct server_addr *a = &s->addrs[k];
			if (a->broken || a->tries >= ADDR_TRIES_MAX)
				continue;
			uint64_t score = (uint64_t)a->tries * 1000000u +
					 servers_score(r->w->servers, (struct sockaddr *)&a->ss, now);
			score = score * 8 + arc4random_uniform(8); /* ties broken at random */
			if (score < best_score) {
				best_score = score;
				best = a;
			}
		}
	}
	return best;
}

/* The QNAME to send: RFC 9156 adds one label per step for the first
 * QMIN_ONE_LABEL steps, then larger steps so that at most QMIN_STEPS_MAX
 * queries are spent on one name. */
static void choose_qname(struct resolution *r, uint8_t *qname, uint16_t *qtype)
{
	int target = name_labels(r->sname);
	if (r->qmin_off || r->qmin_labels >= target) {
		memcpy(qname, r->sname, name_len(r->sname));
		*qtype = r->qtype;
		return;
	}
	const uint8_t *suffix = name_suffix(r->sname, r->qmin_labels);
	memcpy(qname, suffix, name_len(suffix));
	*qtype = TYPE_A; /* RFC 9156 2.1: A draws the fewest broken answers */
}

/* A new question at the same cut: every address may be asked again. */
static void reset_tries(struct resolution *r)
{
	for (int i = 0; i < r->cut.n_servers; i++)
		for (int k = 0; k < r->cut.servers[i].n_addrs; k++)
			r->cut.servers[i].addrs[k].tries = 0;
}

static void qmin_advance(struct resolution *r)
{
	reset_tries(r);
	int target = name_labels(r->sname);
	r->qmin_steps++;
	int step = 1;
	if (r->qmin_steps >= QMIN_ONE_LABEL) {
		int steps_left = QMIN_STEPS_MAX - r->qmin_steps;
		int left = target - r->qmin_labels;
		step = steps_left <= 1 ? left : (left + steps_left - 1) / steps_left;
		if (step < 1)
			step = 1;
	}
	r->qmin_labels += step;
}

static int build_query(struct resolution *r, struct server_addr *a)
{
	struct upstream_query *uq = &r->uq;
	choose_qname(r, uq->qname, &uq->qtype);
	memcpy(&uq->ss, &a->ss, a->len);
	uq->len = a->len;
	uq->id = (uint16_t)arc4random_uniform(65536); /* RFC 5452 9.2 */
	uq->target = a;
	uq->tcp = false;
	uq->timeout_ms = servers_timeout_ms(r->w->servers, (struct sockaddr *)&a->ss);
	struct msg_builder b;
	mb_init(&b, uq->wire, sizeof(uq->wire), uq->id, 0);
	if (mb_question(&b, uq->qname, uq->qtype, CLASS_IN) < 0 ||
	    mb_opt(&b, UPSTREAM_EDNS_SIZE, 0, r->w->cfg->dnssec ? EDNS_FLAG_DO : 0, NULL, 0) < 0)
		return TERN_ESPACE;
	uq->wire_len = (uint16_t)mb_finish(&b);
	return 0;
}

/* Queue uq for the worker. Returns STEP_WAIT, or moves on to another server. */
static enum step send_query(struct resolution *r, bool tcp)
{
	struct budget *b = r->budget;
	if (b->upstream_left <= 0)
		return fail(r, EDE_OTHER, "too much work for one query");
	uint64_t now = clock_mono_ms();
	if (now >= b->deadline_ms)
		return fail(r, EDE_NO_REACHABLE_AUTHORITY, "timed out");
	b->upstream_left--;
	/* no wait may outlast the client's deadline: SERVFAIL comes in bounded time */
	if (r->uq.timeout_ms > b->deadline_ms - now)
		r->uq.timeout_ms = (uint32_t)(b->deadline_ms - now);
	r->uq.tcp = tcp;
	if (tcp) {
		/* a fresh ID for the retry over TCP */
		r->uq.id = (uint16_t)arc4random_uniform(65536);
		r->uq.wire[0] = (uint8_t)(r->uq.id >> 8);
		r->uq.wire[1] = (uint8_t)r->uq.id;
		r->uq.timeout_ms = r->uq.timeout_ms * 2;
	}
	if (r->uq.timeout_ms > b->deadline_ms - now)
		r->uq.timeout_ms = (uint32_t)(b->deadline_ms - now);
	r->istate = ITER_WAIT_REPLY;
	if (upstream_send(r->w, r) < 0) {
		r->uq.target->broken = true;
		r->istate = ITER_SEND;
		return STEP_NEXT; /* the caller loops */
	}
	return STEP_WAIT;
}

/* Copy @s into the result's answer. */
static bool result_add(struct resolution *r, struct rrset **list, const struct rrset *s)
{
	struct rrset *c = rrset_copy(r->arena, s);
	if (!c)
		return false;
	rrset_append(list, c);
	return true;
}

/* NSEC and NSEC3 records (with their RRSIGs) prove a negative answer: keep
 * them with the SOA for the validator and for clients that set DO. */
static bool add_denial_proofs(struct resolution *r, struct rrset *auth)
{
	for (struct rrset *s = auth; s; s = s->next)
		if ((s->type == TYPE_NSEC || s->type == TYPE_NSEC3) &&
		    !result_add(r, &r->result.authority, s))
			return false;
	return true;
}

static struct rrset *find_soa(struct rrset *auth, const uint8_t *name)
{
	for (struct rrset *s = auth; s; s = s->next)
		if (s->type == TYPE_SOA && name_is_under(name, s->owner))
			return s;
	return NULL;
}

/* The referral in @auth for a zone strictly below the cut and at or above @qname. */
static struct rrset *find_referral(struct resolution *r, struct rrset *auth, const uint8_t *qname)
{
	for (struct rrset *s = auth; s; s = s->next) {
		if (s->type != TYPE_NS)
			continue;
		if (name_equal(s->owner, r->cut.zone) || !name_is_under(s->owner, r->cut.zone))
			continue; /* lateral or upward: lame */
		if (!name_is_under(qname, s->owner))
			continue;
		return s;
	}
	return NULL;
}

enum reply_outcome {
	REPLY_DONE,
	REPLY_GLUE, /* an NS-address fetch ends with the referral's glue */
	REPLY_NEXT_STATE,
	REPLY_BAD_SERVER,
	REPLY_FAIL,
};

/* Addresses in the additional section for the names in @ns's RDATA, in the
 * bailiwick of the zone we asked (RFC 5452 6: nothing else is believed). */
static struct rrset *glue_for(struct resolution *r, const struct msg *m, const struct rrset *ns)
{
	int err = 0;
	struct rrset *add = store_section(r->arena, m, SEC_ADDITIONAL, r->cut.zone, r->w->cfg,
					  RANK_ADDITIONAL, &err);
	struct rrset *keep = NULL, **tail = &keep;
	for (struct rrset *s = add; s; s = s->next) {
		if (s->type != TYPE_A && s->type != TYPE_AAAA)
			continue;
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		bool is_ns = false;
		while (rrset_rdata_next(ns, &off, &rd, &len))
			if (name_equal(rd, s->owner))
				is_ns = true;
		if (!is_ns)
			continue;
		struct rrset *c = rrset_copy(r->arena, s);
		if (!c)
			break;
		*tail = c;
		tail = &c->next;
	}
	return keep;
}

static enum reply_outcome take_referral(struct resolution *r, const struct msg *m,
					struct rrset *ns, struct rrset *auth, uint64_t now_s)
{
	if (++r->n_referrals > REFERRALS_MAX) {
		fail(r, EDE_OTHER, "too many referrals");
		return REPLY_FAIL;
	}
	if (r->w->cfg->dnssec)
		validate_referral(r, auth, ns->owner); /* the DS, or its absence, came along */
	struct rrset *keep = glue_for(r, m, ns);
	struct rrset *ns_copy = rrset_copy(r->arena, ns);
	if (ns_copy) {
		ns_copy->rank = RANK_REFERRAL;
		ns_copy->next = keep;
		store_rrsets(r->w->cache, r->arena, ns_copy, now_s);
	}
	if (!cut_from_cache(r, ns->owner)) {
		/* the cache refused it (full, or TTL 0): build the cut from the reply */
		struct zone_cut *cut = &r->cut;
		cut_reset(r, ns->n_rdata);
		memcpy(cut->zone, ns->owner, name_len(ns->owner));
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		while (cut->n_servers < cut->cap && rrset_rdata_next(ns, &off, &rd, &len)) {
			struct server *s = &cut->servers[cut->n_servers++];
			memcpy(s->name, rd, len);
			for (struct rrset *g = keep; g; g = g->next) {
				if (!name_equal(g->owner, rd))
					continue;
				uint32_t o2 = 0;
				const uint8_t *ad;
				uint16_t al;
				while (rrset_rdata_next(g, &o2, &ad, &al))
					server_add_addr(r, s, g->type, ad, al);
			}
		}
	}
	cut_entered(r);
	r->istate = ITER_ADDRS;
	/* the referral to the zone of a name server's name brought its address:
	 * asking that zone for it again would be one query more for the same */
	if (addr_fetch_from_cache(r))
		return REPLY_GLUE;
	return REPLY_NEXT_STATE;
}

static enum reply_outcome classify(struct resolution *r, const struct msg *m)
{
	const struct config *cfg = r->w->cfg;
	struct cache *cache = r->w->cache;
	uint64_t now_s = clock_wall_s();
	uint16_t rcode = FLAGS_RCODE(m->hdr.flags);
	bool aa = m->hdr.flags & FLAG_AA;
	const uint8_t *asked = r->uq.qname;
	bool minimised = !name_equal(asked, r->sname) || r->uq.qtype != r->qtype;
	int err = 0;

	if (rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN)
		return REPLY_BAD_SERVER; /* SERVFAIL, REFUSED, NOTIMP, FORMERR: try another */
	if (m->has_opt && m->edns_ext_rcode != 0)
		return REPLY_BAD_SERVER;

	/* RFC 2181 5.4.1: an answer without AA ranks below an authoritative one
	 * (which replaces it) but may still answer clients; a non-authoritative
	 * authority section never does */
	uint8_t rank = aa ? RANK_ANSWER : RANK_AUTHORITY;
	struct rrset *ans = store_section(r->arena, m, SEC_ANSWER, r->cut.zone, cfg, rank, &err);
	struct rrset *auth = store_section(r->arena, m, SEC_AUTHORITY, r->cut.zone, cfg,
					   aa ? RANK_AUTHORITY : RANK_REFERRAL, &err);
	if (err == TERN_EMALFORMED)
		return REPLY_BAD_SERVER;
	if (err) {
		fail(r, EDE_OTHER, "out of memory");
		return REPLY_FAIL;
	}

	/* Follow the answer from the name we asked through CNAMEs in this reply. */
	uint8_t cur[NAME_MAX_WIRE];
	memcpy(cur, asked, name_len(asked));
	name_lower(cur);
	struct rrset *chain[CNAME_CHAIN_MAX + 1];
	int n_chain = 0;
	struct rrset *final = NULL;
	for (;;) {
		final = store_find(ans, cur, r->uq.qtype);
		if (final || r->uq.qtype == TYPE_CNAME)
			break;
		struct rrset *cn = store_find(ans, cur, TYPE_CNAME);
		if (!cn)
			break;
		uint16_t len;
		const uint8_t *target = rrset_rdata_first(cn, &len);
		if (!target || n_chain == CNAME_CHAIN_MAX || r->n_cnames + n_chain >= CNAME_CHAIN_MAX)
			break;
		chain[n_chain++] = cn;
		memcpy(cur, target, len);
		name_lower(cur);
		if (!name_is_under(cur, r->cut.zone))
			break; /* the rest is another zone's to say */
	}

	if (r->uq.qtype == TYPE_ANY && n_chain == 0 && store_find_owner(ans, cur)) {
		/* ANY (RFC 8482): whatever the server gave for the name is the answer;
		 * it may be a subset, so none of it is cached as if complete */
		for (struct rrset *s = ans; s; s = s->next)
			if (name_equal(s->owner, cur) && !result_add(r, &r->result.answer, s))
				return REPLY_FAIL;
		r->result.rcode = RCODE_NOERROR;
		return REPLY_DONE;
	}
	struct rrset *ns = (!final && rcode == RCODE_NOERROR) ? find_referral(r, auth, cur) : NULL;
	if (n_chain == 0 && ns && !final)
		return take_referral(r, m, ns, auth, now_s);

	if (minimised) {
		if (rcode == RCODE_NXDOMAIN) {
			if (cfg->qmin == QMIN_STRICT) {
				/* RFC 8020: nothing exists below a name that does not exist */
				struct rrset *soa = find_soa(auth, asked);
				store_negative(cache, r->arena, cfg, asked, 0, true, soa, rank, VERDICT_NONE, now_s);
				r->result.rcode = RCODE_NXDOMAIN;
				if (soa && !result_add(r, &r->result.authority, soa))
					return REPLY_FAIL;
				if (!add_denial_proofs(r, auth))
					return REPLY_FAIL;
				return REPLY_DONE;
			}
			/* relaxed: some servers answer NXDOMAIN for empty non-terminals */
			r->qmin_off = true;
			reset_tries(r);
			r->istate = ITER_SEND;
			return REPLY_NEXT_STATE;
		}
		if (!aa && !ans)
			return REPLY_BAD_SERVER; /* neither an answer nor a referral: lame */
		/* the name exists and no cut is there: one more label, same servers */
		qmin_advance(r);
		r->istate = cut_below_cached(r) ? ITER_ADDRS : ITER_SEND;
		return REPLY_NEXT_STATE;
	}

	if (!aa && !ans && !ns)
		return REPLY_BAD_SERVER; /* lame: not authoritative and no way down */

	/* store what we learned and put the chain in the result */
	struct rrset *to_store = NULL;
	for (int i = 0; i < n_chain; i++) {
		struct rrset *c = rrset_copy(r->arena, chain[i]);
		if (!c || !result_add(r, &r->result.answer, chain[i]))
			return REPLY_FAIL;
		c->next = to_store;
		to_store = c;
	}
	if (final) {
		struct rrset *c = rrset_copy(r->arena, final);
		if (!c || !result_add(r, &r->result.answer, final))
			return REPLY_FAIL;
		c->next = to_store;
		to_store = c;
		if (final->type == TYPE_NS) {
			/* e.g. priming (RFC 8109 4): the addresses come with the NS set */
			struct rrset *g = glue_for(r, m, final);
			while (g) {
				struct rrset *next = g->next;
				g->next = to_store;
				to_store = g;
				g = next;
			}
		}
	}
	store_rrsets(cache, r->arena, to_store, now_s);
	r->n_cnames += n_chain;

	if (final) {
		r->result.rcode = RCODE_NOERROR;
		/* a wildcard expansion comes with the proof that the name itself
		 * does not exist (RFC 4035 5.3.4): the validator needs it */
		if (!add_denial_proofs(r, auth))
			return REPLY_FAIL;
		return REPLY_DONE;
	}
	if (n_chain > 0 && r->n_cnames >= CNAME_CHAIN_MAX) {
		fail(r, EDE_OTHER, "CNAME chain too long");
		return REPLY_FAIL;
	}
	if (n_chain > 0 && !name_is_under(cur, r->cut.zone)) {
		/* continue with the target elsewhere in the tree */
		memcpy(r->sname, cur, name_len(cur));
		r->istate = ITER_START;
		return REPLY_NEXT_STATE;
	}
	if (n_chain > 0 && ns) {
		/* RFC 1034 4.3.2 3b: the target is in a child zone, and the reply
		 * carries the referral to it */
		memcpy(r->sname, cur, name_len(cur));
		return take_referral(r, m, ns, auth, now_s);
	}
	/* negative answer for cur */
	struct rrset *soa = find_soa(auth, cur);
	if (rcode == RCODE_NXDOMAIN) {
		store_negative(cache, r->arena, cfg, cur, 0, true, soa, rank, VERDICT_NONE, now_s);
		r->result.rcode = RCODE_NXDOMAIN;
	} else {
		if (n_chain > 0 && !soa) {
			/* a CNAME whose target's data did not come along, and no proof that
			 * it has none: ask again for the target (bounded by n_cnames) */
			memcpy(r->sname, cur, name_len(cur));
			r->istate = ITER_START;
			return REPLY_NEXT_STATE;
		}
		store_negative(cache, r->arena, cfg, cur, r->qtype, false, soa, rank, VERDICT_NONE, now_s);
		r->result.rcode = RCODE_NOERROR;
	}
	if (soa && !result_add(r, &r->result.authority, soa))
		return REPLY_FAIL;
	if (!add_denial_proofs(r, auth))
		return REPLY_FAIL;
	return REPLY_DONE;
}

enum step iterate_run(struct resolution *r)
{
	struct worker *w = r->w;
	for (;;) {
		switch (r->istate) {
		case ITER_START: {
			if (r->refresh) {
				/* a prefetch: the cached answer is what is being replaced */
				r->refresh = false;
				r->istate = ITER_FIND_CUT;
				break;
			}
			int n_cnames = r->n_cnames;
			/* cached negative answers lack their proofs: validation needs them */
			struct lookup_opts opts = { .validating = w->cfg->dnssec, .cd = true,
						    .dnssec_ok = true };
			enum lookup_outcome o = lookup_chain(w->cache, r->arena, clock_wall_s(), &opts,
							     r->sname, r->qtype, &n_cnames, &r->result);
			r->n_cnames = n_cnames;
			if (o == LOOKUP_COMPLETE)
				return STEP_NEXT;
			if (o == LOOKUP_LOOP)
				return fail(r, EDE_OTHER, "CNAME chain too long");
			if (o == LOOKUP_NOMEM)
				return fail(r, EDE_OTHER, "out of memory");
			if (addr_fetch_from_cache(r)) {
				r->istate = ITER_DONE;
				return STEP_ANSWER; /* glue: nothing to validate (see REPLY_GLUE) */
			}
			r->istate = ITER_FIND_CUT;
			break;
		}
		case ITER_FIND_CUT:
			if (find_cut(r) == CUT_NEED_PRIMING) {
				/* RFC 8109: learn the root NS set before using it */
				r->primed = true;
				uint8_t root[1] = { 0 };
				struct resolution *child = resolution_get(w, root, TYPE_NS, r, r->budget);
				if (child && resolution_add_child(r, child) == 0) {
					r->istate = ITER_PRIME;
					return STEP_WAIT;
				}
				break; /* primed is set: the hints are used directly */
			}
			r->istate = ITER_ADDRS;
			break;
		case ITER_PRIME:
			if (r->n_children > 0)
				return STEP_WAIT;
			r->istate = ITER_FIND_CUT;
			break;
		case ITER_ADDRS: {
			refresh_addrs(r);
			if (r->cut.zone[0] == 0 && !r->cut.from_hints && !cut_has_addrs(r)) {
				/* RFC 9609 3: a root NS set without addresses: use the hints */
				cut_from_hints(r);
				cut_entered(r);
			}
			bool any = false;
			for (int i = 0; i < r->cut.n_servers && !any; i++)
				for (int k = 0; k < r->cut.servers[i].n_addrs && !any; k++)
					any = !r->cut.servers[i].addrs[k].broken &&
					      r->cut.servers[i].addrs[k].tries < ADDR_TRIES_MAX;
			if (any) {
				r->istate = ITER_SEND;
				break;
			}
			if (fetch_addrs(r) == 0 && r->n_children == 0) {
				/* the glue of in-zone NS names expired or was evicted while
				 * the NS set was kept: ask the parent again, whose referral
				 * brings the glue back */
				if (r->cut.zone[0] != 0 && r->cut.n_fetches == 0 &&
				    r->n_redelegations < REDELEGATIONS_MAX &&
				    cut_above(r)) {
					r->n_redelegations++;
					break;
				}
				return fail(r, EDE_NO_REACHABLE_AUTHORITY, "no usable server address");
			}
			r->istate = ITER_WAIT_ADDRS;
			return STEP_WAIT;
		}
		case ITER_WAIT_ADDRS:
			/* woken by a finished sub-resolution: its data is in the cache */
			refresh_addrs(r);
			for (int i = 0; i < r->cut.n_servers; i++)
				if (r->cut.servers[i].n_addrs > 0) {
					r->istate = ITER_SEND;
					break;
				}
			if (r->istate == ITER_WAIT_ADDRS) {
				if (r->n_children > 0)
					return STEP_WAIT;
				r->istate = ITER_ADDRS;
			}
			break;
		case ITER_SEND: {
			struct server_addr *a = pick_addr(r);
			if (!a) {
				refresh_addrs(r);
				if (fetch_addrs(r) > 0 || r->n_children > 0) {
					r->istate = ITER_WAIT_ADDRS;
					return STEP_WAIT;
				}
				return fail(r, EDE_NO_REACHABLE_AUTHORITY, "all servers failed");
			}
			a->tries++;
			if (build_query(r, a) < 0)
				return fail(r, EDE_OTHER, "query does not fit");
			enum step s = send_query(r, false);
			if (s != STEP_NEXT)
				return s;
			break;
		}
		case ITER_WAIT_REPLY:
			return STEP_WAIT;
		case ITER_REPLY: {
			struct upstream_query *uq = &r->uq;
			r->istate = ITER_SEND;
			if (uq->failed && uq->target)
				uq->target->broken = true;
			if (uq->timed_out || uq->failed || !uq->reply)
				break;
			struct msg m;
			if (msg_parse(&m, uq->reply, uq->reply_len, NULL) < 0) {
				uq->target->broken = true; /* garbage: another server */
				break;
			}
			if ((m.hdr.flags & FLAG_TC) && !uq->tcp) {
				/* RFC 7766 5: truncated over UDP, ask the same server over TCP */
				enum step s = send_query(r, true);
				if (s != STEP_NEXT)
					return s;
				break;
			}
			switch (classify(r, &m)) {
			case REPLY_DONE:
				r->istate = ITER_DONE;
				return STEP_NEXT;
			case REPLY_GLUE:
				/* addresses of servers are not validated (the parent reads
				 * them from the cache, as it reads the glue of its cut): the
				 * resolution ends here, before the validate stage */
				r->istate = ITER_DONE;
				return STEP_ANSWER;
			case REPLY_NEXT_STATE:
				break;
			case REPLY_BAD_SERVER:
				uq->target->broken = true;
				r->istate = ITER_SEND;
				break;
			case REPLY_FAIL:
				if (r->result.rcode != RCODE_SERVFAIL)
					fail(r, EDE_OTHER, NULL);
				return STEP_FAIL;
			}
			break;
		}
		case ITER_DONE:
			return STEP_NEXT;
		}
	}
}
