/* resolver/validate: the DNSSEC stage of a resolution (RFC 4033-4035).
 *
 * Every RRset of the result gets a verdict. Its zone is the signer of its
 * RRSIGs (or, unsigned, the zone cut it came from); the zone's keys come from
 * the cache with their own verdict, or from a sub-resolution for (zone,
 * DNSKEY) whose own validate stage checks them against the zone's DS, which a
 * sub-resolution for (zone, DS) validates with the parent's keys, and so on up
 * to a trust anchor. Proven absence of a DS makes a zone insecure. Negative
 * answers need NSEC/NSEC3 proofs. Verdicts go into the cache with the data, so
 * a hit costs no crypto. All the cryptography and proof logic is in
 * resolver/dnssec_*.c; this file only decides what to check with what. */
#include "resolver/validate.h"

#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "cache/cache.h"
#include "resolver/config.h"
#include "resolver/dnssec.h"
#include "resolver/lookup.h"
#include "resolver/resolution.h"
#include "resolver/store.h"
#include "resolver/trust_anchor.h"
#include "resolver/worker.h"

#define BOGUS_TTL_S 60 /* a broken zone is not re-fetched on every query, nor kept long */


static enum verdict to_verdict(enum dnssec_verdict v)
{
	switch (v) {
	case DNSSEC_SECURE: return VERDICT_SECURE;
	case DNSSEC_BOGUS: return VERDICT_BOGUS;
	default: return VERDICT_INSECURE;
	}
}

/* Has this resolution already asked for (@name, @type) once? Then a second
 * miss means the answer could not be had: no endless re-fetching. */
static bool fetched_before(struct resolution *r, const uint8_t *name, uint16_t type)
{
	for (int i = 0; i < r->v.n_fetched; i++)
		if (r->v.fetched_type[i] == type && name_equal(r->v.fetched[i], name))
			return true;
	return false;
}

/* Start a sub-resolution for (@name, @type); ST_PENDING, or ST_BOGUS when it
 * cannot be started or was tried already without result. */
static enum status fetch(struct resolution *r, const uint8_t *name, uint16_t type)
{
	for (int i = 0; i < r->n_children; i++)
		if (r->children[i]->qtype == type && name_equal(r->children[i]->qname, name))
			return ST_PENDING; /* asked already, the answer is on its way */
	if (fetched_before(r, name, type) || r->v.n_fetched >= VALIDATE_FETCHES_MAX)
		return ST_BOGUS;
	memcpy(r->v.fetched[r->v.n_fetched], name, name_len(name));
	r->v.fetched_type[r->v.n_fetched] = type;
	r->v.n_fetched++;
	struct resolution *child = resolution_get(r->w, name, type, r, r->budget);
	if (!child || resolution_add_child(r, child) < 0)
		return ST_BOGUS;
	return ST_PENDING;
}

static enum status from_entry_verdict(uint8_t v)
{
	return v == VERDICT_SECURE ? ST_SECURE : v == VERDICT_BOGUS ? ST_BOGUS : ST_INSECURE;
}

/* Why a cached DS or DNSKEY entry, insecure or bogus, is so: the reason found
 * when it was judged goes down the chain of trust with it, so that what it
 * signs gets the EDE its own resolution gave (and a hit, the same). */
static enum dnssec_reason cached_why(const struct cache_entry *e)
{
	if (e->verdict == VERDICT_INSECURE)
		return (enum dnssec_reason)e->why;
	return e->why != DNSSEC_R_NONE ? (enum dnssec_reason)e->why : DNSSEC_R_DNSKEY_MISSING;
}

/* Is there anything to validate against above @zone? */
static bool anchored(const struct resolution *r, const uint8_t *zone)
{
	const struct trust_anchors *ta = &r->w->cfg->anchors;
	return !trust_anchor_is_negative(ta, zone) && trust_anchor_find(ta, zone) != NULL;
}

/* Is @zone where a trust anchor is (its keys are checked against it, no DS)? */
static bool is_anchor(const struct resolution *r, const uint8_t *zone)
{
	const struct trust_anchor *ta = trust_anchor_find(&r->w->cfg->anchors, zone);
	return ta && name_equal(ta->owner, zone);
}

#define UNSIGNED_CUT_LABELS_MAX 16 /* ancestors of a zone looked at for an unsigned cut */

/* Is there, strictly above @zone and below its trust anchor, a delegation
 * whose referral proved it unsigned (validate_referral(): a verified NSEC or
 * NSEC3 proof of no DS, kept with rank RANK_REFERRAL, only ever stored from a
 * referral)? Then @zone, below it, cannot be signed. A no-DS answer of any
 * other kind is not enough: it may be about a name that is no zone cut. */
static bool under_unsigned_cut(struct resolution *r, const uint8_t *zone,
			       enum dnssec_reason *why)
{
	const struct trust_anchor *ta = trust_anchor_find(&r->w->cfg->anchors, zone);
	if (!ta)
		return false;
	const uint8_t *z = name_parent(zone);
	for (int i = 0; z && i < UNSIGNED_CUT_LABELS_MAX; i++, z = name_parent(z)) {
		if (!name_is_under(z, ta->owner) || name_equal(z, ta->owner))
			return false;
		struct cache_entry e;
		if (cache_find(r->w->cache, z, TYPE_DS, clock_wall_s(), r->arena, &e) == 0 &&
		    e.kind == CACHE_NODATA && e.rank == RANK_REFERRAL &&
		    (e.verdict == VERDICT_SECURE || e.verdict == VERDICT_INSECURE)) {
			if (e.verdict == VERDICT_INSECURE)
				*why = (enum dnssec_reason)e.why;
			return true;
		}
	}
	return false;
}

enum { DS_UNKNOWN, DS_NONE, DS_JUDGED };

/* What the cache knows of @zone's DS: nothing judged yet, a proven absence
 * (or an insecure parent's word, whose reason goes in *@why): the zone is
 * unsigned, or a verdict. */
static int ds_state(struct resolution *r, const uint8_t *zone, enum dnssec_reason *why)
{
	struct cache_entry e;
	if (cache_find(r->w->cache, zone, TYPE_DS, clock_wall_s(), r->arena, &e) != 0 ||
	    e.verdict == VERDICT_NONE)
		return DS_UNKNOWN;
	if (e.kind != CACHE_RRSET && e.kind != CACHE_NXDOMAIN &&
	    (e.verdict == VERDICT_SECURE || e.verdict == VERDICT_INSECURE)) {
		if (e.verdict == VERDICT_INSECURE)
			*why = (enum dnssec_reason)e.why;
		return DS_NONE;
	}
	return DS_JUDGED;
}

static enum status keys_for(struct resolution *r, const uint8_t *zone, struct rrset **keys,
			    enum dnssec_reason *why);
static void referral_check(struct resolution *r, struct rrset *auth, const uint8_t *child,
			   const uint8_t *parent, const struct rrset *keys);

/* Check the proofs deferred by validate_referral() for @zone and the zones
 * above it, now that the chain has reached them: each with its parent's keys,
 * fetched if need be (ST_PENDING), its verdict cached as a referral's would
 * be. ST_INSECURE when a parent turned out insecure (its reason in *@why):
 * @zone, below it, is too. ST_SECURE otherwise: look at the cache again. Each
 * proof is checked once. */
static enum status run_deferred(struct resolution *r, const uint8_t *zone,
				enum dnssec_reason *why)
{
	const struct trust_anchor *ta = trust_anchor_find(&r->w->cfg->anchors, zone);
	for (int i = 0; i < r->v.n_deferred; i++) {
		const uint8_t *child = r->v.deferred[i].child, *parent = r->v.deferred[i].parent;
		if (!r->v.deferred[i].proofs || !name_is_under(zone, child))
			continue;
		if (!ta || !name_is_under(parent, ta->owner)) {
			r->v.deferred[i].proofs = NULL; /* an anchor in between rules */
			continue;
		}
		struct rrset *keys = NULL;
		enum dnssec_reason parent_why = DNSSEC_R_NONE;
		enum status st = keys_for(r, parent, &keys, &parent_why);
		if (st == ST_INSECURE)
			*why = parent_why;
		if (st == ST_PENDING || st == ST_INSECURE)
			return st;
		struct rrset *proofs = r->v.deferred[i].proofs;
		r->v.deferred[i].proofs = NULL;
		if (st == ST_SECURE && keys)
			referral_check(r, proofs, child, parent, keys);
	}
	return ST_SECURE;
}

/* The DS RRset of @zone (SECURE, in *@ds), or why there is none: the reason
 * it is bogus, or insecure (DNSSEC_R_NONE for a plain unsigned delegation). */
static enum status ds_for(struct resolution *r, const uint8_t *zone, struct rrset **ds,
			  enum dnssec_reason *why)
{
	struct cache_entry e;
	if (cache_find(r->w->cache, zone, TYPE_DS, clock_wall_s(), r->arena, &e) == 0 &&
	    e.verdict != VERDICT_NONE) {
		if (e.kind == CACHE_RRSET && e.verdict == VERDICT_SECURE) {
			*ds = rrset_from_entry(r->arena, zone, TYPE_DS, &e);
			return *ds ? ST_SECURE : ST_BOGUS;
		}
		if (e.kind != CACHE_RRSET && e.verdict == VERDICT_SECURE)
			return ST_INSECURE; /* proven: no DS, an unsigned delegation */
		*why = cached_why(&e);
		return from_entry_verdict(e.verdict);
	}
	*why = DNSSEC_R_DNSKEY_MISSING;
	return fetch(r, zone, TYPE_DS);
}

/* The validated DNSKEY RRset of @zone in *@keys, or why there is none (bogus),
 * or why it is insecure (DNSSEC_R_NONE when nothing more is to be said). */
static enum status keys_for(struct resolution *r, const uint8_t *zone, struct rrset **keys,
			    enum dnssec_reason *why)
{
	if (!anchored(r, zone))
		return ST_INSECURE;
	struct cache_entry e;
	if (cache_find(r->w->cache, zone, TYPE_DNSKEY, clock_wall_s(), r->arena, &e) == 0 &&
	    e.verdict != VERDICT_NONE) {
		if (e.kind == CACHE_RRSET && e.verdict == VERDICT_SECURE) {
			*keys = rrset_from_entry(r->arena, zone, TYPE_DNSKEY, &e);
			return *keys ? ST_SECURE : ST_BOGUS;
		}
		if (e.kind != CACHE_RRSET && e.verdict == VERDICT_SECURE) {
			*why = DNSSEC_R_DNSKEY_MISSING; /* signed, yet not a zone apex */
			return ST_BOGUS;
		}
		*why = cached_why(&e);
		return from_entry_verdict(e.verdict);
	}
	/* a delegation proven unsigned needs no look at the child's keys; one
	 * in an insecure zone is insecure for the zone's reason */
	enum dnssec_reason ds_why = DNSSEC_R_NONE;
	int ds = ds_state(r, zone, &ds_why);
	if (ds == DS_NONE) {
		*why = ds_why;
		return ST_INSECURE;
	}
	*why = DNSSEC_R_DNSKEY_MISSING;
	if (r->qtype == TYPE_DNSKEY && name_equal(r->qname, zone)) {
		/* our own question: own_keys() has judged it */
		*keys = r->v.own_keys;
		return r->v.own_status;
	}
	if (ds == DS_UNKNOWN && !is_anchor(r, zone)) {
		/* the proofs our referrals carried first, then: below a delegation
		 * proven unsigned nothing is signed; else the DS first, as RFC
		 * 4035 5.2 walks: its absence spares the child's DNSKEY query, and
		 * a DNSKEY answer would wait for it anyway */
		enum dnssec_reason later_why = DNSSEC_R_NONE;
		enum status st = run_deferred(r, zone, &later_why);
		if (st != ST_SECURE) {
			if (st == ST_INSECURE)
				*why = later_why;
			return st;
		}
		ds = ds_state(r, zone, &later_why);
		if (ds == DS_UNKNOWN && under_unsigned_cut(r, zone, &later_why))
			ds = DS_NONE;
		if (ds == DS_NONE) {
			*why = later_why;
			return ST_INSECURE;
		}
		if (ds == DS_UNKNOWN)
			return fetch(r, zone, TYPE_DS);
	}
	return fetch(r, zone, TYPE_DNSKEY);
}

/* The zone whose keys must sign @s: the RRSIG signer, which must lie between
 * the zone cut the data came from and the owner; unsigned, that zone cut. */
static const uint8_t *zone_of(const struct resolution *r, const struct rrset *s)
{
	const uint8_t *signer = rrset_signer(s);
	if (signer) {
		if (!name_is_under(s->owner, signer) || (s->zone && !name_is_under(signer, s->zone)))
			return NULL;
		return signer;
	}
	return s->zone ? s->zone : r->cut.zone;
}

static void set_reason(struct resolution *r, enum dnssec_reason why)
{
	if (r->v.reason == DNSSEC_R_NONE)
		r->v.reason = why;
}

/* Why something is insecure rather than secure (EDE 1, 2, 27), if we know. */
static void set_insecure_reason(struct resolution *r, enum dnssec_reason why)
{
	if (r->v.insecure_reason == DNSSEC_R_NONE && dnssec_reason_ede(why) != EDE_NONE)
		r->v.insecure_reason = why;
}

/* A verdict for one RRset; ST_PENDING when keys are being fetched. */
static enum status check_rrset(struct resolution *r, struct rrset *s, struct dnssec_result *res)
{
	memset(res, 0, sizeof(*res));
	if (s->verdict != VERDICT_NONE) {
		/* from the cache, or judged on an earlier pass (keep what it found,
		 * and why: the answer's EDE is the one a fresh judgement gives) */
		res->wildcard = s->wildcard_labels != 0;
		res->wildcard_labels = s->wildcard_labels;
		if (s->verdict == VERDICT_INSECURE)
			set_insecure_reason(r, s->why);
		if (s->verdict == VERDICT_BOGUS && s->why != DNSSEC_R_NONE)
			set_reason(r, s->why);
		return from_entry_verdict(s->verdict);
	}
	const uint8_t *zone = zone_of(r, s);
	enum dnssec_reason why = DNSSEC_R_NONE;
	if (!zone) {
		set_reason(r, DNSSEC_R_WRONG_SIGNER);
		s->verdict = VERDICT_BOGUS;
		s->why = DNSSEC_R_WRONG_SIGNER;
		return ST_BOGUS;
	}
	struct rrset *keys = NULL;
	enum status st = keys_for(r, zone, &keys, &why);
	if (st == ST_PENDING)
		return st;
	if (st == ST_INSECURE) {
		set_insecure_reason(r, why);
		s->verdict = VERDICT_INSECURE;
		s->why = (uint8_t)why;
		return st;
	}
	if (st == ST_BOGUS) {
		set_reason(r, why);
		s->verdict = VERDICT_BOGUS;
		s->why = (uint8_t)why;
		return st;
	}
	if (s->n_sigs == 0) {
		set_reason(r, DNSSEC_R_RRSIGS_MISSING);
		s->verdict = VERDICT_BOGUS;
		s->why = DNSSEC_R_RRSIGS_MISSING;
		return ST_BOGUS;
	}
	struct rrset sigs = rrset_sigs_view(s);
	enum dnssec_verdict v = dnssec_verify_rrset(s, &sigs, keys, zone, clock_wall_s(),
						    &r->v.budget, res);
	if (v == DNSSEC_BOGUS)
		set_reason(r, res->reason);
	if (v == DNSSEC_INSECURE)
		set_insecure_reason(r, res->reason);
	s->verdict = (uint8_t)to_verdict(v);
	s->why = v == DNSSEC_SECURE ? DNSSEC_R_NONE : (uint8_t)res->reason;
	if (v == DNSSEC_SECURE && res->wildcard)
		s->wildcard_labels = res->wildcard_labels ? res->wildcard_labels : 0xff;
	if (v == DNSSEC_SECURE && res->ttl_cap_s < s->ttl_s)
		s->ttl_s = res->ttl_cap_s; /* RFC 4035 5.3.3 */
	return from_entry_verdict(s->verdict);
}

/* The name the final answer is about: the client's, after the CNAMEs. */
static void final_name(const struct resolution *r, uint8_t *out)
{
	memcpy(out, r->qname, name_len(r->qname));
	for (int i = 0; i < CNAME_CHAIN_MAX + 1; i++) {
		bool moved = false;
		for (const struct rrset *s = r->result.answer; s; s = s->next) {
			if (s->type != TYPE_CNAME || !name_equal(s->owner, out))
				continue;
			uint16_t len;
			const uint8_t *t = rrset_rdata_first(s, &len);
			if (t && len <= NAME_MAX_WIRE && name_len(t) == len && !name_equal(t, out)) {
				memcpy(out, t, len);
				moved = true;
			}
			break;
		}
		if (!moved)
			return;
	}
}

/* Does the answer hold data for @name (for ANY: of any type)? */
static bool has_answer(const struct resolution *r, const uint8_t *name)
{
	if (r->qtype == TYPE_ANY)
		return store_find_owner(r->result.answer, name) != NULL;
	return store_find(r->result.answer, name, r->qtype) != NULL;
}

/* The NSEC/NSEC3 RRsets of the authority section, SECURE, as a list of copies. */
static struct rrset *secure_proofs(struct resolution *r, const uint8_t **zone)
{
	struct rrset *list = NULL;
	*zone = NULL;
	for (struct rrset *s = r->result.authority; s; s = s->next) {
		if ((s->type != TYPE_NSEC && s->type != TYPE_NSEC3) || s->verdict != VERDICT_SECURE)
			continue;
		struct rrset *c = rrset_copy(r->arena, s);
		if (!c)
			return NULL;
		c->next = list;
		list = c;
		*zone = rrset_signer(s);
	}
	return list;
}

/* Put the verdicts into the cache with the data: a later hit costs no crypto. */
static void store_verdicts(struct resolution *r, enum status overall, const uint8_t *name)
{
	const struct config *cfg = r->w->cfg;
	uint64_t now = clock_wall_s();
	struct rrset *list = NULL;
	for (struct rrset *s = r->result.answer; s; s = s->next) {
		if (s->verdict == VERDICT_NONE)
			continue;
		struct rrset *c = rrset_copy(r->arena, s);
		if (!c)
			return;
		if (c->verdict == VERDICT_BOGUS && c->ttl_s > BOGUS_TTL_S)
			c->ttl_s = BOGUS_TTL_S;
		c->next = list;
		list = c;
	}
	for (struct rrset *s = r->result.authority; s; s = s->next) {
		/* the proofs and the SOA, for aggressive negative answers (RFC 8198) */
		if ((s->type != TYPE_NSEC && s->type != TYPE_NSEC3 && s->type != TYPE_SOA) ||
		    s->verdict == VERDICT_NONE)
			continue;
		struct rrset *c = rrset_copy(r->arena, s);
		if (!c)
			return;
		c->next = list;
		list = c;
	}
	store_rrsets(r->w->cache, r->arena, list, now);
	if (r->result.rcode == RCODE_NXDOMAIN || !has_answer(r, name)) {
		bool nx = r->result.rcode == RCODE_NXDOMAIN;
		struct rrset *soa = NULL;
		for (struct rrset *s = r->result.authority; s; s = s->next)
			if (s->type == TYPE_SOA)
				soa = s;
		if (soa && (r->result.rcode == RCODE_NXDOMAIN || r->result.rcode == RCODE_NOERROR)) {
			uint8_t v = overall == ST_SECURE ? VERDICT_SECURE
				    : overall == ST_BOGUS ? VERDICT_BOGUS : VERDICT_INSECURE;
			struct rrset *c = rrset_copy(r->arena, soa);
			if (c && v == VERDICT_BOGUS && c->ttl_s > BOGUS_TTL_S)
				c->ttl_s = BOGUS_TTL_S;
			/* the answer's reason, for the EDE of a hit (store_negative) */
			if (c)
				c->why = (uint8_t)(v == VERDICT_BOGUS ? r->v.reason
						   : v == VERDICT_INSECURE ? r->v.insecure_reason
						   : DNSSEC_R_NONE);
			if (c)
				store_negative(r->w->cache, r->arena, cfg, name, nx ? 0 : r->qtype, nx, c,
					       RANK_ANSWER, v, now);
		}
	}
}

/* A DNSKEY resolution for a zone checks its own answer against the DS. */
static enum status own_keys(struct resolution *r)
{
	const uint8_t *zone = r->qname;
	if (!anchored(r, zone))
		return ST_INSECURE;
	const struct trust_anchor *ta = trust_anchor_find(&r->w->cfg->anchors, zone);
	struct rrset *ds = NULL, *anchor_keys = NULL;
	enum dnssec_reason why = DNSSEC_R_NONE;
	if (ta && name_equal(ta->owner, zone)) {
		ds = ta->ds.n_rdata ? (struct rrset *)&ta->ds : NULL;
		anchor_keys = ta->dnskey.n_rdata ? (struct rrset *)&ta->dnskey : NULL;
	} else {
		enum status st = ds_for(r, zone, &ds, &why);
		if (st == ST_INSECURE) {
			/* no DS, or one in an insecure zone: the keys are insecure too,
			 * cached so with the reason (RFC 4035 5.2) */
			set_insecure_reason(r, why);
			struct rrset *keys = store_find(r->result.answer, zone, TYPE_DNSKEY);
			if (keys && r->result.rcode == RCODE_NOERROR) {
				keys->verdict = VERDICT_INSECURE;
				keys->why = (uint8_t)why;
				r->v.own_keys = keys;
			}
			return st;
		}
		if (st != ST_SECURE) {
			if (st == ST_BOGUS)
				set_reason(r, why);
			return st;
		}
	}
	struct rrset *keys = store_find(r->result.answer, zone, TYPE_DNSKEY);
	if (!keys || r->result.rcode != RCODE_NOERROR) {
		set_reason(r, DNSSEC_R_DNSKEY_MISSING);
		return ST_BOGUS;
	}
	r->v.own_keys = keys;
	struct dnssec_result res;
	struct rrset sigs = rrset_sigs_view(keys);
	enum dnssec_verdict v = dnssec_validate_dnskeys(keys, &sigs, ds, anchor_keys, clock_wall_s(),
							&r->v.budget, &res);
	keys->verdict = (uint8_t)to_verdict(v);
	keys->why = v == DNSSEC_SECURE ? DNSSEC_R_NONE : (uint8_t)res.reason;
	if (v == DNSSEC_SECURE && res.ttl_cap_s < keys->ttl_s)
		keys->ttl_s = res.ttl_cap_s;
	if (v == DNSSEC_BOGUS)
		set_reason(r, res.reason);
	if (v == DNSSEC_INSECURE)
		set_insecure_reason(r, res.reason);
	return from_entry_verdict(keys->verdict);
}

static enum status combine(enum status a, enum status b)
{
	if (a == ST_PENDING || b == ST_PENDING)
		return ST_PENDING;
	if (a == ST_BOGUS || b == ST_BOGUS)
		return ST_BOGUS;
	if (a == ST_INSECURE || b == ST_INSECURE)
		return ST_INSECURE;
	return ST_SECURE;
}

/* Negative answers and wildcards: the proofs must hold (RFC 4035 5.4). */
static enum status check_denial(struct resolution *r, const uint8_t *name, enum status so_far,
				bool wildcard, uint8_t wildcard_labels)
{
	bool negative = r->result.rcode == RCODE_NXDOMAIN || !has_answer(r, name);
	if (so_far != ST_SECURE || (!negative && !wildcard))
		return so_far;
	const uint8_t *zone;
	struct rrset *proofs = secure_proofs(r, &zone);
	struct dnssec_denial d = { .reason = DNSSEC_R_NSEC_MISSING };
	enum dnssec_verdict v;
	if (!proofs || !zone)
		v = DNSSEC_BOGUS;
	else if (!negative)
		v = dnssec_prove_wildcard(name, wildcard_labels, zone, proofs, &r->v.budget, &d);
	else if (r->result.rcode == RCODE_NXDOMAIN)
		v = dnssec_prove_nxdomain(name, zone, proofs, &r->v.budget, &d);
	else
		v = dnssec_prove_nodata(name, r->qtype, zone, proofs, &r->v.budget, &d);
	if (v == DNSSEC_BOGUS)
		set_reason(r, d.reason);
	if (v == DNSSEC_INSECURE)
		set_insecure_reason(r, d.reason);
	if (v == DNSSEC_BOGUS && !negative) {
		/* the wildcard expansion is not proven: its data is bogus too, however
		 * well signed (RFC 4035 5.3.4) */
		for (struct rrset *s = r->result.answer; s; s = s->next)
			if (name_equal(s->owner, name)) {
				s->verdict = VERDICT_BOGUS;
				s->why = (uint8_t)d.reason;
			}
	}
	return v == DNSSEC_SECURE ? ST_SECURE : v == DNSSEC_BOGUS ? ST_BOGUS : ST_INSECURE;
}

enum step validate_run(struct resolution *r)
{
	const struct config *cfg = r->w->cfg;
	if (!cfg->dnssec || r->result.rcode == RCODE_SERVFAIL)
		return STEP_NEXT;
	if (!r->v.started) {
		r->v.started = true;
		r->v.own_status = ST_BOGUS;
		dnssec_budget_init(&r->v.budget);
	}
	if (r->n_children > 0)
		return STEP_WAIT; /* woken by one child; more are still out */

	uint8_t name[NAME_MAX_WIRE];
	final_name(r, name);
	enum status overall = ST_SECURE;
	if (r->qtype == TYPE_DNSKEY && name_equal(name, r->qname)) {
		overall = own_keys(r);
		if (overall == ST_PENDING)
			return STEP_WAIT;
		r->v.own_status = overall;
	}
	bool wildcard = false;
	uint8_t wildcard_labels = 0;
	struct rrset *lists[2] = { r->result.answer, r->result.authority };
	for (int i = 0; i < 2; i++) {
		for (struct rrset *s = lists[i]; s; s = s->next) {
			if (r->qtype == TYPE_DNSKEY && s->type == TYPE_DNSKEY &&
			    name_equal(s->owner, r->qname))
				continue; /* own_keys() did it */
			struct dnssec_result res;
			enum status st = check_rrset(r, s, &res);
			if (res.wildcard && name_equal(s->owner, name)) {
				wildcard = true;
				wildcard_labels = res.wildcard_labels;
			}
			overall = combine(overall, st);
		}
	}
	if (overall == ST_PENDING)
		return STEP_WAIT;
	overall = check_denial(r, name, overall, wildcard, wildcard_labels);

	store_verdicts(r, overall, name);
	r->result.secure = overall == ST_SECURE;
	if (overall == ST_INSECURE && r->v.insecure_reason != DNSSEC_R_NONE &&
	    r->result.ede == EDE_NONE) {
		/* RFC 8914: say why it could not be validated (EDE 1, 2, 27) */
		r->result.ede = dnssec_reason_ede(r->v.insecure_reason);
		r->result.ede_text = dnssec_reason_text(r->v.insecure_reason);
	}
	if (overall == ST_BOGUS) {
		/* RFC 4035 5.5: bogus is SERVFAIL; a CD client still gets the data */
		log_debug("resolution depth %d: DNSSEC bogus (%s)", r->depth,
			  dnssec_reason_text(r->v.reason));
		r->result.bogus = true;
		r->result.bogus_rcode = r->result.rcode;
		r->result.bogus_answer = r->result.answer;
		r->result.bogus_authority = r->result.authority;
		r->result.rcode = RCODE_SERVFAIL;
		r->result.answer = NULL;
		r->result.authority = NULL;
		uint16_t ede = dnssec_reason_ede(r->v.reason);
		r->result.ede = ede == EDE_NONE ? 6 /* DNSSEC Bogus */ : ede;
		r->result.ede_text = dnssec_reason_text(r->v.reason);
	}
	return STEP_NEXT;
}

/* Keep what a referral from @parent to @child carried for the chain of trust
 * (the DS RRset, or NSEC/NSEC3 records) for run_deferred(): the parent's keys
 * are not known yet, and a DS query later would ask for what we hold. The
 * oldest is dropped when there are too many (it is asked for then). */
static void referral_defer(struct resolution *r, struct rrset *auth, const uint8_t *child,
			   const uint8_t *parent)
{
	struct rrset *list = NULL;
	const struct rrset *ds = store_find(auth, child, TYPE_DS);
	for (const struct rrset *s = auth; s; s = s->next) {
		if (ds ? s != ds : s->type != TYPE_NSEC && s->type != TYPE_NSEC3)
			continue;
		if (s->n_sigs == 0)
			return; /* unsigned: nothing it could prove */
		struct rrset *c = rrset_copy(r->arena, s);
		if (!c)
			return;
		c->next = list;
		list = c;
	}
	uint8_t *c = arena_memdup(r->arena, child, name_len(child));
	uint8_t *p = arena_memdup(r->arena, parent, name_len(parent));
	if (!list || !c || !p)
		return;
	if (r->v.n_deferred == VALIDATE_DEFERRED_MAX) {
		memmove(&r->v.deferred[0], &r->v.deferred[1],
			sizeof(r->v.deferred[0]) * (VALIDATE_DEFERRED_MAX - 1));
		r->v.n_deferred--;
	}
	r->v.deferred[r->v.n_deferred].child = c;
	r->v.deferred[r->v.n_deferred].parent = p;
	r->v.deferred[r->v.n_deferred].proofs = list;
	r->v.n_deferred++;
}

void validate_referral(struct resolution *r, struct rrset *auth, const uint8_t *child)
{
	const uint8_t *parent = r->cut.zone;
	if (!anchored(r, parent) || !name_is_under(child, parent) || name_equal(child, parent))
		return;
	struct cache_entry e;
	if (cache_find(r->w->cache, child, TYPE_DS, clock_wall_s(), r->arena, &e) == 0 &&
	    e.verdict != VERDICT_NONE)
		return; /* judged already: no crypto twice for the same delegation */
	if (cache_find(r->w->cache, parent, TYPE_DNSKEY, clock_wall_s(), r->arena, &e) != 0 ||
	    e.kind != CACHE_RRSET || e.verdict != VERDICT_SECURE) {
		/* not known yet (or not secure): kept for when the chain gets here */
		referral_defer(r, auth, child, parent);
		return;
	}
	struct rrset *keys = rrset_from_entry(r->arena, parent, TYPE_DNSKEY, &e);
	if (!keys)
		return;
	referral_check(r, auth, child, parent, keys);
}

/* Check the DS RRset of @child, or the NSEC/NSEC3 records proving it has
 * none, in @proofs (a referral's authority section) with @parent's secure
 * @keys; cache the verdict. Nothing is cached when anything does not check out. */
static void referral_check(struct resolution *r, struct rrset *auth, const uint8_t *child,
			   const uint8_t *parent, const struct rrset *keys)
{
	if (!r->v.started) {
		r->v.started = true;
		r->v.own_status = ST_BOGUS;
		dnssec_budget_init(&r->v.budget);
	}
	uint64_t now = clock_wall_s();
	struct dnssec_result res;
	struct rrset *ds = store_find(auth, child, TYPE_DS);
	if (ds) {
		if (ds->n_sigs == 0)
			return;
		struct rrset sigs = rrset_sigs_view(ds);
		if (dnssec_verify_rrset(ds, &sigs, keys, parent, now, &r->v.budget, &res) !=
		    DNSSEC_SECURE)
			return;
		struct rrset *c = rrset_copy(r->arena, ds);
		if (!c)
			return;
		c->verdict = VERDICT_SECURE;
		if (res.ttl_cap_s < c->ttl_s)
			c->ttl_s = res.ttl_cap_s;
		store_rrsets(r->w->cache, r->arena, c, now);
		return;
	}
	/* no DS: an insecure delegation, if the NSEC/NSEC3 records prove it */
	struct rrset *proofs = NULL;
	uint32_t ttl = UINT32_MAX;
	for (struct rrset *s = auth; s; s = s->next) {
		if (s->type != TYPE_NSEC && s->type != TYPE_NSEC3)
			continue;
		if (s->n_sigs == 0)
			return;
		struct rrset sigs = rrset_sigs_view(s);
		if (dnssec_verify_rrset(s, &sigs, keys, parent, now, &r->v.budget, &res) !=
		    DNSSEC_SECURE)
			return;
		struct rrset *c = rrset_copy(r->arena, s);
		if (!c)
			return;
		c->next = proofs;
		proofs = c;
		if (res.ttl_cap_s < ttl)
			ttl = res.ttl_cap_s;
	}
	if (!proofs)
		return;
	struct dnssec_denial d;
	enum dnssec_verdict v = dnssec_prove_nodata(child, TYPE_DS, parent, proofs, &r->v.budget, &d);
	if (v != DNSSEC_SECURE && v != DNSSEC_INSECURE)
		return;
	if (v == DNSSEC_SECURE && !d.delegation)
		return; /* no DS, but no zone cut either (an empty non-terminal): proves nothing */
	/* RFC 4035 5.2: the delegation is provably unsigned (or opt-out) */
	struct cache_entry neg = {
		.kind = CACHE_NODATA,
		.rank = RANK_REFERRAL,
		.verdict = (uint8_t)to_verdict(v),
		.why = v == DNSSEC_INSECURE ? (uint8_t)d.reason : DNSSEC_R_NONE,
		.ttl_s = ttl < r->w->cfg->neg_ttl_max_s ? ttl : r->w->cfg->neg_ttl_max_s,
	};
	cache_stash(r->w->cache, child, TYPE_DS, &neg, now);
}
