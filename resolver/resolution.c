/* resolver/resolution: lifetime, coalescing and waking of resolutions.
 * The stages a resolution runs are in resolver/pipeline.c; this file only
 * keeps the books: who waits for whom, and when memory may go. */
#include "resolver/resolution.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "resolver/pipeline.h"
#include "resolver/request.h"
#include "resolver/upstream.h"
#include "resolver/worker.h"

#define PREFETCH_TIMEOUT_MS 4500
#define PREFETCH_UPSTREAM_MAX 32

struct budget *budget_new(uint64_t now_ms, uint64_t timeout_ms, int upstream_max)
{
	struct budget *b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	b->refs = 1;
	b->upstream_left = upstream_max;
	b->deadline_ms = now_ms + timeout_ms;
	return b;
}

void budget_unref(struct budget *b)
{
	if (b && --b->refs == 0)
		free(b);
}

static uint32_t question_hash(const uint8_t *qname, uint16_t qtype)
{
	/* FNV-1a; the table is per worker and bounded by in-flight limits */
	uint32_t h = 2166136261u ^ qtype;
	for (size_t i = 0, n = name_len(qname); i < n; i++)
		h = (h ^ qname[i]) * 16777619u;
	return h;
}

static bool is_ancestor(const struct resolution *parent, const uint8_t *qname, uint16_t qtype)
{
	/* a parent only knows its own question; the chain is walked through the
	 * depth bound instead: a cycle shows up as the same question in flight
	 * among the parent's own question */
	return parent && parent->qtype == qtype && name_equal(parent->qname, qname);
}

struct resolution *resolution_get(struct worker *w, const uint8_t *qname, uint16_t qtype,
				  struct resolution *parent, struct budget *budget)
{
	uint8_t lname[NAME_MAX_WIRE];
	memcpy(lname, qname, name_len(qname));
	name_lower(lname);
	if (is_ancestor(parent, lname, qtype))
		return NULL;
	uint32_t h = question_hash(lname, qtype);
	for (struct resolution *r = w->inflight[h % COALESCE_BUCKETS]; r; r = r->hash_next) {
		if (r->hash == h && r->qtype == qtype && name_equal(r->qname, lname) &&
		    r->state == RES_RUNNING) {
			/* Join only a resolution deeper than the parent: its own children are
			 * deeper still, so it can never be waiting on the parent (no cycles). */
			if (parent && r->depth <= parent->depth)
				continue;
			r->refs++;
			w->last_created = NULL;
			return r;
		}
	}
	int depth = parent ? parent->depth + 1 : 0;
	if (depth > SUBQUERY_DEPTH_MAX)
		return NULL;
	/* a flood of distinct names must not grow memory without bound */
	if (w->n_resolutions >= RESOLUTIONS_MAX)
		return NULL;
	struct arena *a = arena_create(RESOLUTION_ARENA_MAX);
	if (!a)
		return NULL;
	struct resolution *r = arena_zalloc(a, sizeof(*r));
	if (!r) {
		arena_destroy(a);
		return NULL;
	}
	r->arena = a;
	r->w = w;
	r->state = RES_RUNNING;
	r->refs = 2; /* the caller's, and one while it runs */
	r->hash = h;
	memcpy(r->qname, lname, name_len(lname));
	r->qtype = qtype;
	r->depth = depth;
	r->budget = budget;
	budget->refs++;
	memcpy(r->sname, lname, name_len(lname));
	r->result.ede = EDE_NONE;
	w->n_resolutions++;
	w->last_created = r;
	r->hash_next = w->inflight[h % COALESCE_BUCKETS];
	w->inflight[h % COALESCE_BUCKETS] = r;
	/* run it from the worker's ready list, not from inside the caller */
	r->refs++;
	r->queued = true;
	r->ready_next = w->ready_resolutions;
	w->ready_resolutions = r;
	return r;
}

void resolution_prefetch(struct worker *w, const uint8_t *qname, uint16_t qtype)
{
	if (w->n_prefetch >= PREFETCH_INFLIGHT_MAX || w->stopping)
		return;
	struct budget *b = budget_new(clock_mono_ms(), PREFETCH_TIMEOUT_MS, PREFETCH_UPSTREAM_MAX);
	if (!b)
		return;
	struct resolution *r = resolution_get(w, qname, qtype, NULL, b);
	budget_unref(b);
	if (!r)
		return;
	if (w->last_created == r) {
		/* new, not joined: this prefetch is ours to count */
		r->refresh = true;
		r->is_prefetch = true;
		w->n_prefetch++;
	}
	resolution_unref(r); /* nobody waits: it runs for the cache's sake */
}

void resolution_ref(struct resolution *r)
{
	r->refs++;
}

static void unlink_inflight(struct resolution *r)
{
	struct resolution **p = &r->w->inflight[r->hash % COALESCE_BUCKETS];
	while (*p && *p != r)
		p = &(*p)->hash_next;
	if (*p)
		*p = r->hash_next;
	r->hash_next = NULL;
}

void resolution_unref(struct resolution *r)
{
	if (!soft_check(r->refs > 0))
		abort(); /* a refcount below zero is a fatal bug */
	if (--r->refs > 0)
		return;
	/* by now it is done: the running reference is dropped in finish */
	r->w->n_resolutions--;
	r->w->ended_since_trim++;
	if (r->is_prefetch)
		r->w->n_prefetch--;
	budget_unref(r->budget);
	arena_destroy(r->arena);
}

void resolution_add_request(struct resolution *r, struct request *req)
{
	struct waiter *wt = arena_zalloc(req->arena, sizeof(*wt));
	if (!wt) {
		/* the request's own arena is full: it fails on its own */
		resolution_unref(r);
		req->res = NULL;
		return;
	}
	wt->req = req;
	wt->next = r->waiters;
	r->waiters = wt;
	req->res = r;
}

int resolution_add_child(struct resolution *parent, struct resolution *child)
{
	if (parent->n_children >= CHILDREN_MAX) {
		resolution_unref(child);
		return TERN_ELIMIT;
	}
	struct waiter *wt = arena_zalloc(child->arena, sizeof(*wt));
	if (!wt) {
		resolution_unref(child);
		return TERN_ELIMIT;
	}
	wt->parent = parent;
	wt->next = child->waiters;
	child->waiters = wt;
	parent->children[parent->n_children] = child;
	parent->child_waiters[parent->n_children] = wt;
	parent->n_children++;
	return 0;
}

static void wake_request(struct worker *w, struct request *req)
{
	if (req->queued)
		return;
	req->queued = true;
	req->ready_next = w->ready_requests;
	w->ready_requests = req;
}

static void wake_resolution(struct worker *w, struct resolution *r)
{
	if (r->queued || r->state == RES_DONE)
		return;
	r->refs++; /* dropped by worker_drain() after it ran */
	r->queued = true;
	r->ready_next = w->ready_resolutions;
	w->ready_resolutions = r;
}

/* A child finished: forget it in the parent and wake the parent. */
static void detach_child(struct resolution *parent, struct resolution *child)
{
	for (int i = 0; i < parent->n_children; i++) {
		if (parent->children[i] != child)
			continue;
		parent->n_children--;
		parent->children[i] = parent->children[parent->n_children];
		parent->child_waiters[i] = parent->child_waiters[parent->n_children];
		resolution_unref(child);
		return;
	}
}

static void drop_children(struct resolution *r)
{
	/* the parent is done before its children: unhook it from their waiter lists */
	while (r->n_children > 0) {
		struct resolution *child = r->children[--r->n_children];
		struct waiter *mine = r->child_waiters[r->n_children];
		for (struct waiter **p = &child->waiters; *p; p = &(*p)->next) {
			if (*p == mine) {
				*p = mine->next;
				break;
			}
		}
		resolution_unref(child);
	}
}

void resolution_finish(struct resolution *r, uint8_t rcode, uint16_t ede, const char *ede_text)
{
	if (r->state == RES_DONE)
		return;
	r->state = RES_DONE;
	r->istate = ITER_DONE;
	r->result.rcode = rcode;
	if (ede != EDE_NONE) {
		r->result.ede = ede;
		r->result.ede_text = ede_text;
	}
	upstream_cancel(r);
	drop_children(r);
	unlink_inflight(r);
	struct waiter *wt = r->waiters;
	r->waiters = NULL;
	for (; wt; wt = wt->next) {
		if (wt->req) {
			wake_request(r->w, wt->req);
		} else {
			/* a failed key fetch explains the parent's failure best (EDE) */
			if (r->v.reason != DNSSEC_R_NONE && wt->parent->v.reason == DNSSEC_R_NONE)
				wt->parent->v.reason = r->v.reason;
			if (r->v.insecure_reason != DNSSEC_R_NONE &&
			    wt->parent->v.insecure_reason == DNSSEC_R_NONE)
				wt->parent->v.insecure_reason = r->v.insecure_reason;
			detach_child(wt->parent, r);
			wake_resolution(r->w, wt->parent);
		}
	}
	resolution_unref(r); /* the running reference */
}

void resolution_run(struct resolution *r)
{
	if (r->state == RES_DONE)
		return;
	pipeline_resolution_run(r);
}

void resolution_upstream_done(struct resolution *r)
{
	r->io = NULL;
	r->istate = ITER_REPLY;
	wake_resolution(r->w, r);
}
