/* resolver/lookup: the cache stage of a request, and the resolve stage that
 * parks a request on a resolution when the cache cannot answer. */
#include "resolver/lookup.h"
#include "resolver/aggressive.h"

#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/err.h"
#include "cache/cache.h"
#include "resolver/config.h"
#include "resolver/dnssec.h"
#include "resolver/request.h"
#include "resolver/resolution.h"
#include "resolver/worker.h"

#define CLIENT_QUERY_TIMEOUT_MS 4500 /* SERVFAIL before a stub's 5 s retry gives up */
#define CLIENT_UPSTREAM_MAX 64       /* upstream queries per client query, whole tree */

static enum lookup_outcome add_negative(struct arena *a, const struct cache_entry *e,
					struct result *res, uint8_t rcode)
{
	res->rcode = rcode;
	struct rrset *soa = rrset_from_negative(a, e);
	if (soa)
		rrset_append(&res->authority, soa);
	return LOOKUP_COMPLETE;
}

/* Do the entry's RRSIGs say it was synthesised from a wildcard (RRSIG labels
 * below the owner's, RFC 4034 3.1.3)? */
static bool is_wildcard_expansion(const uint8_t *owner, const struct cache_entry *e)
{
	if (e->n_sigs == 0)
		return false;
	/* FORMAT: cache-payload: n_rdata (u16 len, rdata), then the RRSIGs */
	uint32_t off = 0;
	for (uint16_t i = 0; i < e->n_rdata; i++) {
		if (off + 2 > e->data_len)
			return false;
		off += 2u + (uint32_t)(e->data[off] << 8 | e->data[off + 1]);
	}
	if (off + 2 + 4 > e->data_len)
		return false;
	uint8_t labels = e->data[off + 2 + 3]; /* type covered (2), algorithm, labels */
	int owner_labels = name_labels(owner);
	if (owner[0] == 1 && owner[1] == '*')
		owner_labels--; /* RFC 4034 3.1.3: the '*' label is not counted */
	return labels < owner_labels;
}

/* One cache entry, or a miss: data not validated yet (when validating) is a
 * miss, so that it goes through a resolution, which validates it. So is
 * glue and a referral's NS set: RFC 2181 5.4.1, data that no authoritative
 * answer gave is never an answer (the resolution asks the zone, and its
 * answer replaces them). */
static int find(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		const struct lookup_opts *o, struct arena *a, struct cache_entry *e,
		struct result *res)
{
	int rc = o->stale_s ? cache_find_stale(c, name, type, now_s, o->stale_s, a, e)
			    : cache_find(c, name, type, now_s, a, e);
	if (rc != 0)
		return rc;
	if (e->rank < RANK_AUTHORITY)
		return TERN_ENOTFOUND;
	if (o->validating) {
		if (e->verdict == VERDICT_NONE || e->verdict == VERDICT_INDETERMINATE)
			return TERN_ENOTFOUND;
		/* a wildcard expansion goes to a DO client with the proof that the
		 * name itself does not exist (RFC 4035 3.1.3.3), which is not cached
		 * with it: resolve again */
		if (o->dnssec_ok && e->kind == CACHE_RRSET && is_wildcard_expansion(name, e))
			return TERN_ENOTFOUND;
		if (e->verdict != VERDICT_SECURE)
			res->insecure_seen = true;
		/* the reasons cached with the verdicts: the EDE a fresh answer had */
		if (e->verdict == VERDICT_INSECURE && res->insecure_why == DNSSEC_R_NONE &&
		    dnssec_reason_ede(e->why) != EDE_NONE)
			res->insecure_why = e->why;
		if (e->verdict == VERDICT_BOGUS && !res->bogus)
			res->bogus_why = e->why;
		if (e->verdict == VERDICT_BOGUS)
			res->bogus = true;
	}
	if (e->stale)
		res->stale = true;
	return 0;
}

static enum lookup_outcome finish(const struct lookup_opts *o, struct result *res,
				  enum lookup_outcome out)
{
	if (out == LOOKUP_COMPLETE && res->bogus && !o->cd) {
		/* RFC 4035 5.5: cached bogus data is SERVFAIL, without asking again,
		 * with the EDE of validate_run(): the reason's, else DNSSEC Bogus */
		res->rcode = RCODE_SERVFAIL;
		res->answer = NULL;
		res->authority = NULL;
		uint16_t ede = dnssec_reason_ede(res->bogus_why);
		res->ede = ede == EDE_NONE ? 6 /* DNSSEC Bogus */ : ede;
		res->ede_text = res->bogus_why != DNSSEC_R_NONE ? dnssec_reason_text(res->bogus_why)
								: NULL;
	}
	if (out == LOOKUP_COMPLETE)
		res->secure = o->validating && !res->bogus && !res->insecure_seen;
	if (out == LOOKUP_COMPLETE && o->validating && !res->bogus && res->insecure_seen &&
	    res->insecure_why != DNSSEC_R_NONE && res->ede == EDE_NONE) {
		/* RFC 8914: why it could not be validated (EDE 1, 2, 27), as cached */
		res->ede = dnssec_reason_ede(res->insecure_why);
		res->ede_text = dnssec_reason_text(res->insecure_why);
	}
	return out;
}

enum lookup_outcome lookup_chain(struct cache *c, struct arena *a, uint64_t now_s,
				 const struct lookup_opts *o, uint8_t *sname, uint16_t qtype,
				 int *n_cnames, struct result *res)
{
	struct cache_entry e;
	for (;;) {
		if (find(c, sname, qtype, now_s, o, a, &e, res) == 0) {
			if (e.kind == CACHE_NODATA) {
				/* the proofs of a secure one are not cached with it (aggressive.c
				 * finds them); an insecure one needs none */
				if (o->dnssec_ok && o->validating && e.verdict == VERDICT_SECURE)
					return LOOKUP_PARTIAL;
				return finish(o, res, add_negative(a, &e, res, RCODE_NOERROR));
			}
			if (e.kind == CACHE_RRSET) {
				struct rrset *s = rrset_from_entry(a, sname, qtype, &e);
				if (!s)
					return LOOKUP_NOMEM;
				rrset_append(&res->answer, s);
				res->rcode = RCODE_NOERROR;
				return finish(o, res, LOOKUP_COMPLETE);
			}
		}
		if (find(c, sname, CACHE_TYPE_NXDOMAIN, now_s, o, a, &e, res) == 0 &&
		    e.kind == CACHE_NXDOMAIN) {
			if (o->dnssec_ok && o->validating && e.verdict == VERDICT_SECURE)
				return LOOKUP_PARTIAL;
			return finish(o, res, add_negative(a, &e, res, RCODE_NXDOMAIN));
		}
		if (qtype == TYPE_CNAME || find(c, sname, TYPE_CNAME, now_s, o, a, &e, res) != 0 ||
		    e.kind != CACHE_RRSET)
			return LOOKUP_PARTIAL;
		struct rrset *s = rrset_from_entry(a, sname, TYPE_CNAME, &e);
		if (!s)
			return LOOKUP_NOMEM;
		uint16_t len;
		const uint8_t *target = rrset_rdata_first(s, &len);
		if (!target || len == 0 || len > NAME_MAX_WIRE || name_len(target) != len)
			return LOOKUP_PARTIAL;
		rrset_append(&res->answer, s);
		if (++*n_cnames > CNAME_CHAIN_MAX)
			return LOOKUP_LOOP;
		memcpy(sname, target, len);
		name_lower(sname);
	}
}

/* What the client's flags ask of the cache. */
static struct lookup_opts opts_for(const struct request *req, uint32_t stale_s)
{
	const struct config *cfg = req->w->cfg;
	struct lookup_opts o = {
		.stale_s = stale_s,
		.validating = cfg->dnssec,
		.cd = req->q.hdr.flags & FLAG_CD,
		.dnssec_ok = req->q.has_opt && (req->q.edns_flags & EDNS_FLAG_DO),
	};
	return o;
}

enum step lookup_run(struct request *req)
{
	struct worker *w = req->w;
	/* ANY is answered by resolution (RFC 8482 leaves the form to us) */
	if (req->q.qtype == TYPE_ANY)
		return STEP_NEXT;
	struct result *res = arena_zalloc(req->arena, sizeof(*res));
	if (!res)
		return STEP_FAIL;
	res->ede = EDE_NONE;
	uint8_t sname[NAME_MAX_WIRE];
	memcpy(sname, req->q.qname, name_len(req->q.qname));
	name_lower(sname);
	int n_cnames = 0;
	struct lookup_opts opts = opts_for(req, 0);
	enum lookup_outcome o = lookup_chain(w->cache, req->arena, clock_wall_s(), &opts, sname,
					     req->q.qtype, &n_cnames, res);
	if (o == LOOKUP_COMPLETE) {
		w->stats.cache_hits++;
		req->result = res;
		struct rrset *last = res->answer;
		while (last && last->next)
			last = last->next;
		if (w->cfg->prefetch && last && last->type == req->q.qtype &&
		    resolution_wants_prefetch(last->ttl_s, last->orig_ttl_s))
			resolution_prefetch(w, last->owner, last->type);
		return STEP_ANSWER;
	}
	if (o == LOOKUP_PARTIAL && n_cnames == 0 && opts.validating && !opts.cd) {
		/* RFC 8198: a cached, validated NSEC may prove it does not exist */
		struct result *neg = arena_zalloc(req->arena, sizeof(*neg));
		if (neg) {
			neg->ede = EDE_NONE;
			if (aggressive_lookup(w->cache, req->arena, clock_wall_s(), sname, req->q.qtype,
					      opts.dnssec_ok, neg) == LOOKUP_COMPLETE) {
				w->stats.cache_hits++;
				req->result = neg;
				return STEP_ANSWER;
			}
		}
	}
	w->stats.cache_misses++;
	return STEP_NEXT;
}

/* RFC 8767: when resolution fails, expired data within the window is better
 * than SERVFAIL. It goes out with a short TTL and EDE 3 (Stale Answer). */
static void serve_stale(struct request *req, struct result *res)
{
	struct worker *w = req->w;
	struct result stale = { .ede = EDE_NONE };
	uint8_t sname[NAME_MAX_WIRE];
	memcpy(sname, req->q.qname, name_len(req->q.qname));
	name_lower(sname);
	int n_cnames = 0;
	struct lookup_opts opts = opts_for(req, w->cfg->serve_stale_s);
	if (lookup_chain(w->cache, req->arena, clock_wall_s(), &opts, sname, req->q.qtype,
			 &n_cnames, &stale) != LOOKUP_COMPLETE || stale.bogus)
		return;
	struct rrset *lists[2] = { stale.answer, stale.authority };
	for (int i = 0; i < 2; i++)
		for (struct rrset *s = lists[i]; s; s = s->next)
			if (s->ttl_s == 0 || s->ttl_s > STALE_ANSWER_TTL_S)
				s->ttl_s = STALE_ANSWER_TTL_S;
	res->rcode = stale.rcode;
	res->answer = stale.answer;
	res->authority = stale.authority;
	res->ede = EDE_STALE_ANSWER;
	res->ede_text = NULL;
	res->stale = true;
	w->stats.stale_answers++;
}

enum step resolve_run(struct request *req)
{
	struct worker *w = req->w;
	if (req->res) {
		/* woken: the resolution is done; copy its result before letting go */
		struct resolution *r = req->res;
		req->res = NULL;
		struct result *res = arena_zalloc(req->arena, sizeof(*res));
		if (res) {
			const struct result *from = &r->result;
			struct rrset *answer = from->answer, *authority = from->authority;
			res->rcode = from->rcode;
			res->ede = from->ede;
			res->ede_text = from->ede_text;
			res->secure = from->secure;
			if (from->bogus && (req->q.hdr.flags & FLAG_CD)) {
				/* RFC 4035 3.2.2: CD asks for the data, checked or not */
				res->rcode = from->bogus_rcode;
				res->ede = EDE_NONE;
				res->ede_text = NULL;
				answer = from->bogus_answer;
				authority = from->bogus_authority;
			}
			for (struct rrset *s = answer; s; s = s->next) {
				struct rrset *c = rrset_copy(req->arena, s);
				if (c)
					rrset_append(&res->answer, c);
			}
			for (struct rrset *s = authority; s; s = s->next) {
				struct rrset *c = rrset_copy(req->arena, s);
				if (c)
					rrset_append(&res->authority, c);
			}
			req->result = res;
		}
		bool bogus = r->result.bogus;
		resolution_unref(r);
		/* stale data stands in for unreachable servers, never for bogus data */
		if (res && res->rcode == RCODE_SERVFAIL && !bogus && w->cfg->serve_stale_s)
			serve_stale(req, res);
		return res ? STEP_NEXT : STEP_FAIL;
	}
	struct budget *b = budget_new(clock_mono_ms(), CLIENT_QUERY_TIMEOUT_MS, CLIENT_UPSTREAM_MAX);
	if (!b)
		return STEP_FAIL;
	struct resolution *r = resolution_get(w, req->q.qname, req->q.qtype, NULL, b);
	budget_unref(b);
	if (!r)
		return STEP_FAIL;
	resolution_add_request(r, req);
	return req->res ? STEP_WAIT : STEP_FAIL;
}
