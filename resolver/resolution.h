/* resolver/resolution: one question (name, type) being resolved, and everyone
 * waiting for it: client requests and parent resolutions (NS addresses, and later
 * DS/DNSKEY). It is the one mechanism for coalescing identical questions in flight
 * and for sub-queries. A resolution lives in its own arena and is refcounted by
 * its waiters plus one while it runs; resolution_ref/unref are the only refcount. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "proto/wire.h"
#include "resolver/dnssec.h"
#include "resolver/rrset.h"

struct arena;
struct worker;
struct request;
struct upstream_io;

#define RESOLUTION_ARENA_MAX (256 * 1024) /* a hostile answer cannot cost more */
#define SUBQUERY_DEPTH_MAX 16  /* nested sub-resolutions: glueless NS, and DNSKEY/DS two per zone level */
#define CUT_SERVERS_MAX 13     /* NS names considered per zone cut */
#define SERVER_ADDRS_MAX 4     /* addresses per NS name */
#define NS_FETCH_MAX 4         /* NS-address sub-resolutions per referral (NXNSAttack) */
#define CHILDREN_MAX 8         /* sub-resolutions in flight per resolution */
#define VALIDATE_FETCHES_MAX 6  /* DNSKEY/DS sub-resolutions per resolution */
#define VALIDATE_DEFERRED_MAX 4 /* referral proofs kept until the parent's keys come */
#define PREFETCH_INFLIGHT_MAX 64 /* per worker */
#define PREFETCH_TTL_MIN_S 10
#define RESOLUTIONS_MAX 20000  /* per worker: about 5 GB of arenas at their cap, far less in practice */

/** Work allowed to one client query, shared by its whole tree of sub-resolutions. */
struct budget {
	int refs;
	int upstream_left; /* upstream queries left (NXNSAttack, CVE-2020-12662) */
	uint64_t deadline_ms; /* monotonic: past it the answer is SERVFAIL */
};

/** An upstream's address: IPv4 or IPv6, not sockaddr_storage's 128 bytes (a
 * zone cut holds 13 x 4 of them, and every resolution a cut). */
union upstream_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct server_addr {
	union upstream_addr ss;
	socklen_t len;
	uint8_t tries;  /* queries sent to it for the current step */
	bool broken;    /* lame, refused, garbage: not asked again in this resolution */
};

struct server {
	uint8_t name[NAME_MAX_WIRE];
	struct server_addr addrs[SERVER_ADDRS_MAX];
	uint8_t n_addrs;
	bool fetching;     /* a sub-resolution for its address is running or done */
	bool fetch_failed;
};

/** The closest known zone cut and its servers. */
struct zone_cut {
	uint8_t zone[NAME_MAX_WIRE];
	/* in the arena, as many as the cut has names (at most CUT_SERVERS_MAX),
	 * reused by the next cut that needs no more: a resolution in flight
	 * holds a few, not 13 of 400 bytes each (iterate.c: cut_reset()) */
	struct server *servers;
	uint8_t cap;
	uint8_t n_servers;
	uint8_t n_fetches;  /* sub-resolutions started for this cut */
	bool from_hints;
};

enum iter_state {
	ITER_START = 0,  /* look sname up in the cache */
	ITER_FIND_CUT,   /* closest enclosing zone cut */
	ITER_PRIME,      /* waiting for the root NS set (RFC 8109 priming) */
	ITER_ADDRS,      /* addresses for the cut's servers */
	ITER_WAIT_ADDRS, /* waiting for NS-address sub-resolutions */
	ITER_SEND,       /* choose a server and a QNAME, queue the query */
	ITER_WAIT_REPLY, /* waiting on the worker for a reply or a timeout */
	ITER_REPLY,      /* classify the reply */
	ITER_DONE,
};

enum res_state { RES_RUNNING, RES_DONE };

/** What the worker sends on behalf of a resolution, and gets back. */
struct upstream_query {
	union upstream_addr ss;
	socklen_t len;
	uint8_t wire[NAME_MAX_WIRE + 64]; /* the query message */
	uint16_t wire_len;
	uint16_t id;
	uint8_t qname[NAME_MAX_WIRE]; /* as sent (minimised) */
	uint16_t qtype;
	bool tcp;
	uint32_t timeout_ms;
	uint64_t sent_ms;
	struct server_addr *target; /* in res->cut, borrowed */
	/* outcome, set by the worker before it wakes the resolution */
	bool timed_out;
	bool failed;      /* network error (refused, unreachable) */
	uint8_t *reply;   /* owned by the resolution's arena */
	uint16_t reply_len;
	uint32_t rtt_ms;
};

struct waiter {
	struct waiter *next;
	struct request *req;      /* exactly one of req, parent */
	struct resolution *parent;
};

struct resolution {
	struct arena *arena;
	struct worker *w;
	enum res_state state;
	int refs;
	struct resolution *hash_next; /* worker's in-flight table */
	struct resolution *ready_next;
	bool queued;              /* on the worker's ready list */
	uint32_t hash;

	/* the question */
	uint8_t qname[NAME_MAX_WIRE]; /* lowercased */
	uint16_t qtype;
	int depth;                /* 0 for a client's question */
	bool refresh;             /* prefetch: ask upstream even though the cache has it */
	bool is_prefetch;
	struct budget *budget;

	struct waiter *waiters;
	struct resolution *children[CHILDREN_MAX];
	struct waiter *child_waiters[CHILDREN_MAX];
	uint8_t n_children;

	/* iteration */
	enum iter_state istate;
	uint8_t sname[NAME_MAX_WIRE]; /* the name being resolved now (changes with CNAMEs) */
	int n_cnames;
	int qmin_labels;          /* labels in the next minimised QNAME; 0: not minimising */
	bool qmin_off;            /* minimisation given up for this cut (relaxed mode) */
	int qmin_steps;           /* minimised queries sent at this cut */
	bool primed;              /* priming was tried; fall back to the hints */
	int n_referrals;
	int n_redelegations;
	struct zone_cut cut;
	struct upstream_query uq;
	struct upstream_io *io;   /* the worker's I/O for uq, while in flight */
	struct resolution *io_next; /* the others waiting on the same io (upstream.c) */
	uint8_t *reply_buf;       /* one reply at a time, reused; in the arena */
	uint16_t reply_cap;       /* its size: grows with the replies (upstream.c) */

	struct result result;

	/* validation (resolver/validate.c) */
	struct {
		int own_status;              /* enum status: a DNSKEY resolution's own keys */
		struct rrset *own_keys;
		bool started;
		struct dnssec_budget budget;
		enum dnssec_reason reason;   /* the first reason for BOGUS */
		enum dnssec_reason insecure_reason; /* why INSECURE, when an EDE says it */
		uint8_t n_fetched;
		uint8_t fetched[VALIDATE_FETCHES_MAX][NAME_MAX_WIRE]; /* DNSKEY/DS asked for */
		uint16_t fetched_type[VALIDATE_FETCHES_MAX];
		/* referrals taken before the parent's keys were known: their DS
		 * or no-DS proof, checked when the chain reaches the child */
		uint8_t n_deferred;
		struct {
			const uint8_t *child, *parent; /* in the arena */
			struct rrset *proofs;          /* DS, or NSEC/NSEC3, with RRSIGs */
		} deferred[VALIDATE_DEFERRED_MAX];
	} v;
};

/** Find the resolution in flight for (@qname, @qtype) in @w or start one.
 * Returns it with a reference for the caller, or NULL (out of memory, or a
 * cycle: the same question is already an ancestor of @parent). */
struct resolution *resolution_get(struct worker *w, const uint8_t *qname, uint16_t qtype,
				  struct resolution *parent, struct budget *budget);
void resolution_ref(struct resolution *r);
void resolution_unref(struct resolution *r);
/** Register @req as waiting for @r (takes over the caller's reference). */
void resolution_add_request(struct resolution *r, struct request *req);
/** Make @parent wait for @child (takes over the caller's reference to @child). */
int resolution_add_child(struct resolution *parent, struct resolution *child);
/** Refresh (@qname, @qtype) in the background (prefetch), unless it is in
 * flight already or the worker has PREFETCH_INFLIGHT_MAX prefetches running. */
void resolution_prefetch(struct worker *w, const uint8_t *qname, uint16_t qtype);
/** Should a cache hit with @ttl_s left of @orig_ttl_s trigger a prefetch? */
static inline bool resolution_wants_prefetch(uint32_t ttl_s, uint32_t orig_ttl_s)
{
	/* the last tenth of the TTL, as Unbound does; tiny TTLs are not worth it */
	return orig_ttl_s >= PREFETCH_TTL_MIN_S && (uint64_t)ttl_s * 10 <= orig_ttl_s;
}
/** Run the resolution's stages until it waits or is done. */
void resolution_run(struct resolution *r);
/** Finish: set the result's rcode, wake every waiter, leave the in-flight table. */
void resolution_finish(struct resolution *r, uint8_t rcode, uint16_t ede, const char *ede_text);
/** The worker calls this when the upstream query in r->uq has an outcome. */
void resolution_upstream_done(struct resolution *r);

struct budget *budget_new(uint64_t now_ms, uint64_t timeout_ms, int upstream_max);
void budget_unref(struct budget *b);
