/* resolver/fastpath: the commonest case, answered without a request, an arena
 * or a resolution: a plain query (one question, class IN, at most an OPT
 * record) whose answer RRset is in the cache. The reply is written straight
 * from the cache's memory map into the caller's buffer, TTLs counted down.
 * Anything else (misses, CNAMEs, negative answers, truncation, refused clients)
 * returns 0 and takes the full request path, which gives the same answer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct worker;

/* What fastpath_parse() learnt of a query, for fastpath_answer(). */
struct fp_query {
	bool plain;          /* false: the full path answers it */
	bool has_opt;
	uint8_t name_len;    /* the question's name, wire length */
	uint16_t flags;
	uint16_t qtype;
	uint16_t q_end;      /* end of the question */
	uint16_t reply_max;  /* the largest reply the client takes (EDNS) */
	uint64_t tag;        /* hash of the lowercased name and type */
	uint64_t lname[32];  /* the name lowercased, zero-padded to whole words */
};

/* A batch of queries goes in three passes, so that the memory each answer
 * needs is on its way while the others are worked on: fastpath_batch_begin(),
 * fastpath_parse() each, fastpath_prefetch() each, fastpath_answer() each,
 * fastpath_batch_end(). */

/** Around each batch: the cache is read as of the batch's start (one snapshot
 * per shard, taken on first use, as cache_read_hold() does). */
void fastpath_batch_begin(struct worker *w);
void fastpath_batch_end(struct worker *w);
/** Check and hash @q (@q_len bytes) into *@fq. */
void fastpath_parse(struct worker *w, const uint8_t *q, size_t q_len, struct fp_query *fq);
/** Start fetching what fastpath_answer() will read for @fq. */
void fastpath_prefetch(struct worker *w, const struct fp_query *fq);
/** The reply to @q (parsed into @fq) in @out (at most @cap bytes), or 0 for
 * "take the slow path". @now_s: the wall clock (one reading per batch). */
size_t fastpath_answer(struct worker *w, const uint8_t *q, size_t q_len, const struct fp_query *fq,
		       const struct sockaddr *peer, uint64_t now_s, uint8_t *out, size_t cap);
/** Free the worker's memo of recent answers (worker_free() calls it). */
void fastpath_free(struct worker *w);
