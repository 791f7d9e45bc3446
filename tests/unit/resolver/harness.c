/* tests/unit/resolver/harness: scripted upstream and fake clock; see harness.h.
 * The functions upstream_send, upstream_cancel, clock_wall_s and clock_mono_ms
 * are defined here and nowhere else in the test binary: the archive members
 * resolver/upstream.o and base/clock.o are then never linked. What upstream.c
 * does around a reply (RTT and timeouts into the servers table, the reply
 * copied into the resolution's arena) is mirrored in deliver() below. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/resolver/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "cache/cache.h"
#include "resolver/resolution.h"
#include "resolver/rrset.h"
#include "resolver/servers.h"
#include "resolver/upstream.h"
#include "resolver/worker.h"

#define CACHE_BYTES (16u << 20)
#define CNAME_FOLLOW_MAX 16  /* in-zone CNAMEs a fake server follows in one answer */
#define UDP_SIZE_NO_EDNS 512 /* RFC 1035 4.2.1 */
#define REPLY_EDNS_SIZE 1232

/* An outcome on its way back to a resolution. */
struct harness_pending {
	struct harness_pending *next;
	struct resolution *r;
	uint64_t due_ms;
	uint64_t seq; /* ties in due_ms are delivered in the order sent */
	enum fake_action action;
	uint8_t *reply; /* malloc'd */
	uint16_t reply_len;
	struct fake_server *server;
};

static struct harness *current;
static uint64_t fake_mono_ms = HARNESS_MONO_START_MS;

/* ---- the clocks (replace base/clock.o) ---------------------------------- */

uint64_t clock_mono_ms(void)
{
	return fake_mono_ms;
}

uint64_t clock_wall_s(void)
{
	return HARNESS_WALL_START_S + (fake_mono_ms - HARNESS_MONO_START_MS) / 1000;
}

uint64_t harness_now_ms(void)
{
	return fake_mono_ms;
}

void harness_advance(struct harness *h, uint64_t ms)
{
	(void)h;
	fake_mono_ms += ms;
}

/* ---- text helpers --------------------------------------------------------- */

const char *name_text(const uint8_t *name)
{
	static char bufs[8][NAME_MAX_WIRE * 4 + 2];
	static int next;
	char *b = bufs[next++ % 8];
	if (name_to_text(name, b, sizeof(bufs[0])) < 0)
		snprintf(b, sizeof(bufs[0]), "(bad name)");
	return b;
}

static const struct {
	const char *text;
	uint16_t type;
} type_names[] = {
	{ "A", TYPE_A },	 { "NS", TYPE_NS },	    { "CNAME", TYPE_CNAME },
	{ "SOA", TYPE_SOA },	 { "PTR", TYPE_PTR },	    { "MX", TYPE_MX },
	{ "TXT", TYPE_TXT },	 { "AAAA", TYPE_AAAA },	    { "SRV", TYPE_SRV },
	{ "DNAME", TYPE_DNAME }, { "DS", TYPE_DS },	    { "RRSIG", TYPE_RRSIG },
	{ "NSEC", TYPE_NSEC },	 { "DNSKEY", TYPE_DNSKEY }, { "NSEC3", TYPE_NSEC3 },
	{ "SVCB", TYPE_SVCB },	 { "HTTPS", TYPE_HTTPS },   { "ANY", TYPE_ANY },
};

static const char *type_text(uint16_t type)
{
	static char bufs[4][16];
	static int next;
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].text;
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof(bufs[0]), "TYPE%u", type);
	return b;
}

static int type_from_text(const char *t)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcasecmp(type_names[i].text, t) == 0)
			return type_names[i].type;
	if (strncasecmp(t, "TYPE", 4) == 0 && t[4])
		return atoi(t + 4);
	return -1;
}

static void name_or_die(const char *text, uint8_t out[NAME_MAX_WIRE])
{
	if (name_from_text(text, out) < 0)
		fail_msg("harness: bad name \"%s\"", text);
}

static bool parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(53);
		*len = sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(53);
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static const char *addr_text(const void *addr)
{
	static char bufs[4][INET6_ADDRSTRLEN];
	static int next;
	char *b = bufs[next++ % 4];
	const struct sockaddr *ss = addr;
	const void *src = ss->sa_family == AF_INET
				  ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
				  : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!inet_ntop(ss->sa_family, src, b, INET6_ADDRSTRLEN))
		snprintf(b, INET6_ADDRSTRLEN, "?");
	return b;
}

/* ---- zone data -------------------------------------------------------------- */

static size_t put_name(uint8_t *out, size_t cap, const char *text)
{
	uint8_t n[NAME_MAX_WIRE];
	name_or_die(text, n);
	size_t len = name_len(n);
	if (len > cap)
		fail_msg("harness: RDATA too long");
	memcpy(out, n, len);
	return len;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RDATA text (the rest of the line) to wire; returns the length. */
static uint16_t parse_rdata(uint16_t type, const char *text, uint8_t *out, const char *line)
{
	char a[256], b[256];
	unsigned long v[5];
	size_t len = 0;
	if (strncmp(text, "\\#", 2) == 0) { /* RFC 3597 3 */
		const char *p = text + 2;
		unsigned n = (unsigned)strtoul(p, (char **)&p, 10);
		if (n > FAKE_RDATA_MAX)
			fail_msg("harness: RDATA too long in \"%s\"", line);
		for (unsigned i = 0; i < n; i++) {
			while (*p == ' ' || *p == '\t')
				p++;
			unsigned byte;
			if (sscanf(p, "%2x", &byte) != 1)
				fail_msg("harness: bad hex in \"%s\"", line);
			out[i] = (uint8_t)byte;
			p += 2;
		}
		return (uint16_t)n;
	}
	switch (type) {
	case TYPE_A:
		if (inet_pton(AF_INET, text, out) != 1)
			fail_msg("harness: bad A in \"%s\"", line);
		return 4;
	case TYPE_AAAA:
		if (inet_pton(AF_INET6, text, out) != 1)
			fail_msg("harness: bad AAAA in \"%s\"", line);
		return 16;
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_DNAME:
	case TYPE_PTR:
		if (sscanf(text, "%255s", a) != 1)
			fail_msg("harness: bad RDATA in \"%s\"", line);
		return (uint16_t)put_name(out, FAKE_RDATA_MAX, a);
	case TYPE_MX:
		if (sscanf(text, "%lu %255s", &v[0], a) != 2)
			fail_msg("harness: bad MX in \"%s\"", line);
		out[0] = (uint8_t)(v[0] >> 8);
		out[1] = (uint8_t)v[0];
		return (uint16_t)(2 + put_name(out + 2, FAKE_RDATA_MAX - 2, a));
	case TYPE_SOA:
		if (sscanf(text, "%255s %255s %lu %lu %lu %lu %lu", a, b, &v[0], &v[1], &v[2],
			   &v[3], &v[4]) != 7)
			fail_msg("harness: bad SOA in \"%s\"", line);
		len = put_name(out, FAKE_RDATA_MAX, a);
		len += put_name(out + len, FAKE_RDATA_MAX - len, b);
		for (int i = 0; i < 5; i++, len += 4)
			put_u32(out + len, (uint32_t)v[i]);
		return (uint16_t)len;
	case TYPE_TXT: {
		const char *s = text;
		size_t n = strlen(s);
		if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
			s++;
			n -= 2;
		}
		if (n > 255)
			fail_msg("harness: TXT string too long in \"%s\"", line);
		out[0] = (uint8_t)n;
		memcpy(out + 1, s, n);
		return (uint16_t)(n + 1);
	}
	default:
		fail_msg("harness: write RDATA of %s as \\# in \"%s\"", type_text(type), line);
	}
	return 0;
}

void fake_rr(struct fake_server *s, const char *text)
{
	char owner[256], ttl_text[32], t1[32];
	int used = 0;
	if (sscanf(text, "%255s %31s %31s %n", owner, ttl_text, t1, &used) != 3)
		fail_msg("harness: cannot read record \"%s\"", text);
	const char *rest = text + used;
	if (strcasecmp(t1, "IN") == 0) {
		int more = 0;
		if (sscanf(rest, "%31s %n", t1, &more) != 1)
			fail_msg("harness: cannot read record \"%s\"", text);
		rest += more;
	}
	int type = type_from_text(t1);
	if (type <= 0 || type > 65535)
		fail_msg("harness: unknown type in \"%s\"", text);
	if (s->n_rrs == s->cap_rrs) {
		s->cap_rrs = s->cap_rrs ? 2 * s->cap_rrs : 16;
		s->rrs = realloc(s->rrs, (size_t)s->cap_rrs * sizeof(*s->rrs));
		assert_non_null(s->rrs);
	}
	struct fake_rr *rr = &s->rrs[s->n_rrs++];
	memset(rr, 0, sizeof(*rr));
	name_or_die(owner, rr->owner);
	name_lower(rr->owner);
	rr->type = (uint16_t)type;
	rr->ttl = (uint32_t)strtoul(ttl_text, NULL, 10);
	rr->rdlen = parse_rdata(rr->type, rest, rr->rdata, text);
}

void fake_zone(struct fake_server *s, const char *apex, const char *const *rrs)
{
	if (s->n_zones == FAKE_ZONES_MAX)
		fail_msg("harness: too many zones on %s", s->label);
	name_or_die(apex, s->zones[s->n_zones]);
	name_lower(s->zones[s->n_zones]);
	s->n_zones++;
	for (; rrs && *rrs; rrs++)
		fake_rr(s, *rrs);
}

static const struct fake_rr *find_rr(const struct fake_server *s, const uint8_t *owner,
				     uint16_t type)
{
	for (int i = 0; i < s->n_rrs; i++)
		if (s->rrs[i].type == type && name_equal(s->rrs[i].owner, owner))
			return &s->rrs[i];
	return NULL;
}

/* The name exists: it owns records, or is an empty non-terminal above some. */
static bool name_exists(const struct fake_server *s, const uint8_t *name)
{
	for (int i = 0; i < s->n_rrs; i++)
		if (name_is_under(s->rrs[i].owner, name))
			return true;
	return false;
}

int fake_add_rrset(struct fake_server *s, struct fake_reply *rep, enum section sec,
		   const uint8_t *owner, uint16_t type)
{
	int n = 0;
	for (int i = 0; i < s->n_rrs; i++) {
		const struct fake_rr *rr = &s->rrs[i];
		if (rr->type != type || !name_equal(rr->owner, owner))
			continue;
		if (mb_rr(&rep->mb, sec, rr->owner, rr->type, CLASS_IN, rr->ttl, rr->rdata,
			  rr->rdlen) == 0)
			n++;
	}
	return n;
}

/* Addresses of the NS names at @owner, from any of @s's records, as additional data. */
static void add_glue(struct fake_server *s, struct fake_reply *rep, const uint8_t *owner)
{
	for (int i = 0; i < s->n_rrs; i++) {
		const struct fake_rr *ns = &s->rrs[i];
		if (ns->type != TYPE_NS || !name_equal(ns->owner, owner))
			continue;
		fake_add_rrset(s, rep, SEC_ADDITIONAL, ns->rdata, TYPE_A);
		fake_add_rrset(s, rep, SEC_ADDITIONAL, ns->rdata, TYPE_AAAA);
	}
}

static void respond_referral(struct fake_server *s, struct fake_reply *rep, const uint8_t *cut)
{
	mb_set_flags(&rep->mb, FLAG_QR);
	fake_add_rrset(s, rep, SEC_AUTHORITY, cut, TYPE_NS);
	add_glue(s, rep, cut);
}

/* The highest delegation (NS RRset) strictly below @apex at or above @name. */
static const uint8_t *find_delegation(const struct fake_server *s, const uint8_t *apex,
				      const uint8_t *name, uint16_t qtype)
{
	int za = name_labels(apex), qa = name_labels(name);
	for (int n = za + 1; n <= qa; n++) {
		const uint8_t *cut = name_suffix(name, n);
		if (n == qa && qtype == TYPE_DS)
			break; /* RFC 4035 3.1.4.1: DS is the parent's to answer */
		if (find_rr(s, cut, TYPE_NS))
			return cut;
	}
	return NULL;
}

enum fake_action fake_respond_zone(struct fake_server *s, const struct fake_query *q,
				   struct fake_reply *rep)
{
	uint8_t qn[NAME_MAX_WIRE];
	memcpy(qn, q->qname, name_len(q->qname));
	name_lower(qn);
	const uint8_t *apex = NULL;
	for (int i = 0; i < s->n_zones; i++)
		if (name_is_under(qn, s->zones[i]) &&
		    (!apex || name_labels(s->zones[i]) > name_labels(apex)))
			apex = s->zones[i];
	if (!apex) {
		mb_set_flags(&rep->mb, FLAG_QR | RCODE_REFUSED);
		return FAKE_REPLY;
	}
	const uint8_t *cut = find_delegation(s, apex, qn, q->qtype);
	if (cut) {
		respond_referral(s, rep, cut);
		return FAKE_REPLY;
	}
	uint8_t cur[NAME_MAX_WIRE];
	memcpy(cur, qn, name_len(qn));
	uint16_t rcode = RCODE_NOERROR;
	for (int step = 0;; step++) {
		if (fake_add_rrset(s, rep, SEC_ANSWER, cur, q->qtype) > 0)
			break;
		const struct fake_rr *cn =
			q->qtype == TYPE_CNAME ? NULL : find_rr(s, cur, TYPE_CNAME);
		if (cn) {
			fake_add_rrset(s, rep, SEC_ANSWER, cur, TYPE_CNAME);
			memcpy(cur, cn->rdata, cn->rdlen);
			name_lower(cur);
			/* out of the zone, or round a loop: stop, as authoritative servers do */
			if (!name_is_under(cur, apex) || step == CNAME_FOLLOW_MAX ||
			    name_equal(cur, qn))
				break;
			/* RFC 1034 4.3.2 step 3b after a restart: the target is below a
			 * cut, so the rest is a referral (AA stays: the qname is ours) */
			const uint8_t *child = find_delegation(s, apex, cur, q->qtype);
			if (child) {
				fake_add_rrset(s, rep, SEC_AUTHORITY, child, TYPE_NS);
				add_glue(s, rep, child);
				break;
			}
			continue;
		}
		if (!name_exists(s, cur))
			rcode = RCODE_NXDOMAIN;
		fake_add_rrset(s, rep, SEC_AUTHORITY, apex, TYPE_SOA);
		break;
	}
	if (q->qtype == TYPE_NS) /* the addresses come with an NS answer (RFC 8109 4) */
		add_glue(s, rep, cur);
	mb_set_flags(&rep->mb, (uint16_t)(FLAG_QR | FLAG_AA | rcode));
	return FAKE_REPLY;
}

/* ---- harness set-up --------------------------------------------------------- */

struct harness *harness_new(enum qmin_mode qmin)
{
	if (current)
		fail_msg("harness: one harness at a time");
	struct harness *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	fake_mono_ms = HARNESS_MONO_START_MS;
	h->trace = getenv("HARNESS_TRACE") != NULL;

	struct config *c = &h->cfg;
	c->qmin = qmin;
	c->upstream_ipv4 = true;
	c->upstream_ipv6 = false;
	c->allow_loopback_upstream = true;
	c->hints_on_loopback = true;
	c->ttl_min_s = 0;
	c->ttl_max_s = 86400;
	c->neg_ttl_max_s = 3600;
	c->edns_udp_size = 1232;
	c->threads = 1;
	harness_hint(h, "a.root-servers.net.", "127.0.0.1");

	const char *tmp = getenv("TMPDIR");
	snprintf(h->cache_dir, sizeof(h->cache_dir), "%s/tern-iter-XXXXXX",
		 tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	assert_non_null(mkdtemp(h->cache_dir));
	assert_int_equal(cache_open(&h->cache, h->cache_dir, CACHE_BYTES), 0);

	h->w = calloc(1, sizeof(*h->w));
	assert_non_null(h->w);
	h->w->cfg = &h->cfg;
	h->w->cache = h->cache;
	h->w->servers = servers_new();
	assert_non_null(h->w->servers);
	current = h;
	return h;
}

void harness_clear_hints(struct harness *h)
{
	h->cfg.n_hints = 0;
}

void harness_hint(struct harness *h, const char *name, const char *addr)
{
	assert_true(h->cfg.n_hints < CONFIG_HINTS_MAX);
	struct hint *hint = &h->cfg.hints[h->cfg.n_hints++];
	memset(hint, 0, sizeof(*hint));
	name_or_die(name, hint->name);
	name_lower(hint->name);
	if (!parse_addr(addr, &hint->ss, &hint->len))
		fail_msg("harness: bad address \"%s\"", addr);
}

struct fake_server *harness_server(struct harness *h, const char *label, const char *addr)
{
	assert_true(h->n_servers < HARNESS_SERVERS_MAX);
	struct fake_server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	snprintf(s->label, sizeof(s->label), "%s", label);
	if (!parse_addr(addr, &s->ss, &s->len))
		fail_msg("harness: bad address \"%s\"", addr);
	for (int i = 0; i < h->n_servers; i++)
		if (same_addr((const struct sockaddr *)&h->servers[i]->ss,
			      (const struct sockaddr *)&s->ss))
			fail_msg("harness: two servers at %s", addr);
	s->latency_ms = FAKE_LATENCY_MS;
	h->servers[h->n_servers++] = s;
	return s;
}

struct fake_server *harness_find_server(const struct harness *h, const char *label)
{
	for (int i = 0; i < h->n_servers; i++)
		if (strcmp(h->servers[i]->label, label) == 0)
			return h->servers[i];
	return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void harness_free(struct harness *h)
{
	if (!h)
		return;
	struct worker *w = h->w;
	w->draining = false; /* a failed assertion may have jumped out of worker_drain() */
	/* as worker.c's on_stop: nobody is left waiting, then nothing is left running */
	for (int i = 0; i < COALESCE_BUCKETS; i++)
		while (w->inflight[i])
			resolution_finish(w->inflight[i], RCODE_SERVFAIL, EDE_NOT_READY,
					  "test over");
	worker_drain(w);
	bool leftover = h->pending != NULL;
	while (h->pending) {
		struct harness_pending *p = h->pending;
		h->pending = p->next;
		free(p->reply);
		free(p);
	}
	for (int i = 0; i < h->n_held; i++)
		resolution_unref(h->held[i]);
	free(h->held);
	cache_close(h->cache);
	nftw(h->cache_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	servers_free(w->servers);
	free(w);
	for (int i = 0; i < h->n_servers; i++) {
		free(h->servers[i]->rrs);
		free(h->servers[i]);
	}
	free(h->log);
	free(h);
	current = NULL;
	/* a finished resolution must have cancelled its query (upstream_cancel) */
	assert_false(leftover);
}

/* ---- the upstream (replaces resolver/upstream.o) ----------------------------- */

static struct fake_server *server_at(struct harness *h, const struct sockaddr *sa)
{
	for (int i = 0; i < h->n_servers; i++)
		if (same_addr((const struct sockaddr *)&h->servers[i]->ss, sa))
			return h->servers[i];
	return NULL;
}

/* What the resolver put on the wire must be the query it says it sent. */
static void check_query(const struct upstream_query *uq, struct msg *m)
{
	const char *why = NULL;
	if (msg_parse(m, uq->wire, uq->wire_len, &why) < 0)
		fail_msg("harness: the resolver sent a malformed query (%s)", why ? why : "?");
	assert_int_equal(m->hdr.id, uq->id);
	assert_int_equal(m->hdr.flags & (FLAG_QR | FLAG_RD), 0); /* iterative (RFC 1034 5.3.1) */
	assert_int_equal(FLAGS_OPCODE(m->hdr.flags), 0);
	assert_int_equal(m->hdr.qdcount, 1);
	assert_int_equal(name_len(m->qname), name_len(uq->qname));
	assert_memory_equal(m->qname, uq->qname, name_len(uq->qname));
	assert_int_equal(m->qtype, uq->qtype);
	assert_int_equal(m->qclass, CLASS_IN);
	assert_true(uq->timeout_ms > 0);
}

/* The reply as the server would put it on the wire: OPT added, and over UDP cut
 * to the size the query allowed, with TC=1 (RFC 6891 7, RFC 2181 9). */
static uint16_t finish_reply(const struct fake_server *s, const struct fake_query *q,
			     struct fake_reply *rep)
{
	if (q->has_opt)
		mb_opt(&rep->mb, REPLY_EDNS_SIZE, 0, 0, NULL, 0);
	size_t len = mb_finish(&rep->mb);
	size_t limit = q->has_opt ? q->edns_udp_size : UDP_SIZE_NO_EDNS;
	if (limit < UDP_SIZE_NO_EDNS)
		limit = UDP_SIZE_NO_EDNS;
	if (q->tcp || s->no_truncate || len <= limit)
		return (uint16_t)len;
	uint16_t flags = (uint16_t)((rep->buf[2] << 8 | rep->buf[3]) | FLAG_TC);
	mb_init(&rep->mb, rep->buf, sizeof(rep->buf), q->id, flags);
	mb_question(&rep->mb, q->qname, q->qtype, CLASS_IN);
	if (q->has_opt)
		mb_opt(&rep->mb, REPLY_EDNS_SIZE, 0, 0, NULL, 0);
	return (uint16_t)mb_finish(&rep->mb);
}

static const char *const action_names[] = { "reply", "raw", "timeout", "unreachable",
					    "send error" };

int upstream_send(struct worker *w, struct resolution *r)
{
	struct harness *h = current;
	assert_non_null(h);
	assert_ptr_equal(w, h->w);
	struct upstream_query *uq = &r->uq;
	for (struct harness_pending *p = h->pending; p; p = p->next)
		if (p->r == r)
			fail_msg("harness: a second query from one resolution while one is out");
	struct msg m;
	check_query(uq, &m);
	uq->sent_ms = clock_mono_ms();
	w->stats.upstream_queries++;

	if (h->n_log == h->cap_log) {
		h->cap_log = h->cap_log ? 2 * h->cap_log : 64;
		h->log = realloc(h->log, (size_t)h->cap_log * sizeof(*h->log));
		assert_non_null(h->log);
	}
	struct fake_server *s = server_at(h, &uq->ss.sa);
	struct harness_query *lq = &h->log[h->n_log++];
	memset(lq, 0, sizeof(*lq));
	lq->server = s;
	memcpy(&lq->ss, &uq->ss, sizeof(lq->ss));
	memcpy(lq->qname, uq->qname, name_len(uq->qname));
	lq->qtype = uq->qtype;
	lq->tcp = uq->tcp;
	lq->sent_ms = uq->sent_ms;
	lq->timeout_ms = uq->timeout_ms;
	lq->depth = r->depth;

	struct harness_pending *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->r = r;
	p->server = s;
	p->seq = h->seq++;
	p->action = FAKE_TIMEOUT; /* nobody at that address */
	uint32_t latency = s ? s->latency_ms : 0;
	if (s) {
		struct fake_query q = {
			.qtype = uq->qtype,
			.id = uq->id,
			.flags = m.hdr.flags,
			.tcp = uq->tcp,
			.has_opt = m.has_opt,
			.edns_udp_size = m.edns_udp_size,
			.n_before = s->n_queries++,
		};
		memcpy(q.qname, uq->qname, name_len(uq->qname));
		struct fake_reply *rep = malloc(sizeof(*rep));
		assert_non_null(rep);
		mb_init(&rep->mb, rep->buf, sizeof(rep->buf), q.id, FLAG_QR);
		mb_question(&rep->mb, q.qname, q.qtype, CLASS_IN);
		rep->raw_len = 0;
		p->action = (s->respond ? s->respond : fake_respond_zone)(s, &q, rep);
		if (p->action == FAKE_REPLY || p->action == FAKE_RAW) {
			p->reply_len =
				p->action == FAKE_RAW ? rep->raw_len : finish_reply(s, &q, rep);
			p->reply = malloc(p->reply_len ? p->reply_len : 1);
			assert_non_null(p->reply);
			memcpy(p->reply, rep->buf, p->reply_len);
		}
		free(rep);
	}
	if (h->trace)
		fprintf(stderr, "harness %6llu ms: -> %s (%s) %s %s%s, depth %d: %s\n",
			(unsigned long long)(uq->sent_ms - HARNESS_MONO_START_MS),
			s ? s->label : "nobody", addr_text(&uq->ss), name_text(uq->qname),
			type_text(uq->qtype), uq->tcp ? " over TCP" : "", r->depth,
			action_names[p->action]);
	if (p->action == FAKE_SEND_ERROR) {
		free(p->reply);
		free(p);
		return -ECONNREFUSED;
	}
	p->due_ms = uq->sent_ms + (p->action == FAKE_TIMEOUT ? uq->timeout_ms : latency);
	p->next = h->pending;
	h->pending = p;
	r->io = (struct upstream_io *)p; /* opaque: "a query is in flight" */
	return 0;
}

void upstream_cancel(struct resolution *r)
{
	struct harness *h = current;
	r->io = NULL;
	if (!h)
		return;
	for (struct harness_pending **pp = &h->pending; *pp;) {
		struct harness_pending *p = *pp;
		if (p->r == r) {
			*pp = p->next;
			free(p->reply);
			free(p);
		} else {
			pp = &p->next;
		}
	}
}

/* As resolver/upstream.c's deliver(): the outcome into r->uq, the servers table
 * told, the resolution woken, the worker drained. */
static void deliver(struct harness *h, struct harness_pending *p)
{
	struct resolution *r = p->r;
	struct worker *w = h->w;
	struct upstream_query *uq = &r->uq;
	uint64_t now = clock_mono_ms();
	const struct sockaddr *sa = (const struct sockaddr *)&uq->ss;
	uq->timed_out = false;
	uq->failed = false;
	uq->reply = NULL;
	uq->reply_len = 0;
	switch (p->action) {
	case FAKE_TIMEOUT:
		uq->timed_out = true;
		w->stats.upstream_timeouts++;
		servers_timeout(w->servers, sa, now);
		break;
	case FAKE_UNREACHABLE:
		uq->failed = true;
		servers_timeout(w->servers, sa, now);
		break;
	case FAKE_REPLY:
	case FAKE_RAW:
		uq->rtt_ms = (uint32_t)(now - uq->sent_ms);
		servers_rtt(w->servers, sa, uq->rtt_ms);
		if (!r->reply_buf)
			r->reply_buf = arena_alloc(r->arena, FAKE_REPLY_MAX);
		if (r->reply_buf) {
			memcpy(r->reply_buf, p->reply, p->reply_len);
			uq->reply = r->reply_buf;
			uq->reply_len = p->reply_len;
		} else {
			uq->failed = true;
		}
		break;
	case FAKE_SEND_ERROR:
		break;
	}
	if (h->trace) {
		bool tc = p->action == FAKE_REPLY && p->reply_len > 3 && (p->reply[2] & 0x02);
		fprintf(stderr, "harness %6llu ms: <- %s %s %s: %s%s\n",
			(unsigned long long)(now - HARNESS_MONO_START_MS),
			p->server ? p->server->label : "nobody", name_text(uq->qname),
			type_text(uq->qtype), action_names[p->action], tc ? " TC" : "");
	}
	free(p->reply);
	free(p);
	resolution_upstream_done(r);
	worker_drain(w);
}

void harness_run(struct harness *h)
{
	worker_drain(h->w);
	while (h->pending) {
		if (++h->n_deliveries > HARNESS_DELIVERIES_MAX) {
			harness_dump(h);
			fail_msg("harness: the resolver does not settle");
		}
		struct harness_pending **first = &h->pending;
		for (struct harness_pending **pp = &h->pending; *pp; pp = &(*pp)->next)
			if ((*pp)->due_ms < (*first)->due_ms ||
			    ((*pp)->due_ms == (*first)->due_ms && (*pp)->seq < (*first)->seq))
				first = pp;
		struct harness_pending *p = *first;
		*first = p->next;
		if (p->due_ms > fake_mono_ms)
			fake_mono_ms = p->due_ms;
		deliver(h, p);
	}
}

struct resolution *harness_start(struct harness *h, const char *qname, uint16_t qtype)
{
	uint8_t name[NAME_MAX_WIRE];
	name_or_die(qname, name);
	struct budget *b =
		budget_new(clock_mono_ms(), HARNESS_CLIENT_TIMEOUT_MS, HARNESS_CLIENT_UPSTREAM_MAX);
	assert_non_null(b);
	struct resolution *r = resolution_get(h->w, name, qtype, NULL, b);
	budget_unref(b);
	assert_non_null(r);
	if (h->n_held == h->cap_held) {
		h->cap_held = h->cap_held ? 2 * h->cap_held : 8;
		h->held = realloc(h->held, (size_t)h->cap_held * sizeof(*h->held));
		assert_non_null(h->held);
	}
	h->held[h->n_held++] = r;
	return r;
}

struct resolution *harness_resolve(struct harness *h, const char *qname, uint16_t qtype)
{
	struct resolution *r = harness_start(h, qname, qtype);
	harness_run(h);
	return r;
}

/* ---- assertions --------------------------------------------------------------- */

int harness_count(const struct harness *h, const char *label, const char *qname, uint16_t qtype)
{
	uint8_t name[NAME_MAX_WIRE];
	if (qname)
		name_or_die(qname, name);
	int n = 0;
	for (int i = 0; i < h->n_log; i++) {
		const struct harness_query *lq = &h->log[i];
		if (label && strcmp(label, "-") == 0 && lq->server)
			continue;
		if (label && strcmp(label, "-") != 0 &&
		    (!lq->server || strcmp(lq->server->label, label) != 0))
			continue;
		if (qname && !name_equal(lq->qname, name))
			continue;
		if (qtype && lq->qtype != qtype)
			continue;
		n++;
	}
	return n;
}

void harness_dump(const struct harness *h)
{
	fprintf(stderr, "harness: %d queries\n", h->n_log);
	for (int i = 0; i < h->n_log; i++) {
		const struct harness_query *lq = &h->log[i];
		fprintf(stderr, "  %3d %6llu ms depth %d -> %-18s %-22s %s%s\n", i,
			(unsigned long long)(lq->sent_ms - HARNESS_MONO_START_MS), lq->depth,
			lq->server ? lq->server->label : addr_text(&lq->ss), name_text(lq->qname),
			type_text(lq->qtype), lq->tcp ? " TCP" : "");
	}
}

int rrsets_len(const struct rrset *list)
{
	int n = 0;
	for (; list; list = list->next)
		n++;
	return n;
}

const struct rrset *rrsets_at(const struct rrset *list, int i)
{
	for (; list && i > 0; i--)
		list = list->next;
	return list;
}

static bool rdata_is(uint16_t type, const uint8_t *rd, uint16_t len, const char *text)
{
	uint8_t want[NAME_MAX_WIRE];
	switch (type) {
	case TYPE_A:
		return len == 4 && inet_pton(AF_INET, text, want) == 1 && memcmp(rd, want, 4) == 0;
	case TYPE_AAAA:
		return len == 16 && inet_pton(AF_INET6, text, want) == 1 &&
		       memcmp(rd, want, 16) == 0;
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_DNAME:
	case TYPE_PTR:
		return name_from_text(text, want) > 0 && name_len(rd) == len &&
		       name_equal(rd, want);
	default:
		return false;
	}
}

bool rrset_is(const struct rrset *s, const char *owner, uint16_t type, const char *rdata)
{
	uint8_t name[NAME_MAX_WIRE];
	name_or_die(owner, name);
	if (!s || s->type != type || !name_equal(s->owner, name))
		return false;
	if (!rdata)
		return true;
	uint32_t off = 0;
	const uint8_t *rd;
	uint16_t len;
	while (rrset_rdata_next(s, &off, &rd, &len))
		if (rdata_is(type, rd, len, rdata))
			return true;
	return false;
}
