/* resolver/lookup: answers from the cache. A request whose whole answer is in
 * the cache (following cached CNAMEs) is answered without a resolution; a miss
 * waits on a resolution for the client's question (resolve_run). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "resolver/pipeline.h"

struct arena;
struct cache;
struct result;

#define CNAME_CHAIN_MAX 12 /* Unbound allows 11 restarts, Knot Resolver 13 */
#define STALE_ANSWER_TTL_S 30 /* RFC 8767 4: the TTL of a stale answer */

enum lookup_outcome {
	LOOKUP_COMPLETE, /* @res holds the final answer (positive or negative) */
	LOOKUP_PARTIAL,  /* @res holds the CNAMEs found so far; @sname is what is left */
	LOOKUP_LOOP,     /* the CNAME chain is too long */
	LOOKUP_NOMEM,
};

/** Walk the cache for (@sname, @qtype), appending to @res (rrsets owned by @a)
 * and following CNAMEs (updating @sname and *@n_cnames). With o->stale_s > 0,
 * entries expired at most that long ago are used too (RFC 8767), and
 * res->stale says whether any was. res->secure says whether every entry used
 * was DNSSEC-secure; cached bogus data makes the result SERVFAIL (bogus set). */
struct lookup_opts {
	uint32_t stale_s; /* > 0: serve-stale window */
	bool validating;  /* DNSSEC on: data not yet validated is a miss; bogus is SERVFAIL */
	bool cd;          /* the client set CD: bogus data is returned as it is */
	bool dnssec_ok;   /* the client set DO: negative answers need their proofs (a miss) */
};

enum lookup_outcome lookup_chain(struct cache *c, struct arena *a, uint64_t now_s,
				 const struct lookup_opts *o, uint8_t *sname, uint16_t qtype,
				 int *n_cnames, struct result *res);

enum step lookup_run(struct request *req);
enum step resolve_run(struct request *req);
