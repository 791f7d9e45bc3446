/* resolver/fastpath: the commonest case, answered without a request, an arena
 * or a resolution: a plain query (one question, class IN, at most an OPT
 * record) whose answer RRset is in the cache. The reply is written straight
 * from the cache's memory map into the caller's buffer, TTLs counted down.
 * Anything else (misses, CNAMEs, negative answers, truncation, refused clients)
 * returns 0 and takes the full request path, which gives the same answer. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct worker;

/** The reply to @q in @out (at most @cap bytes), or 0 for "take the slow path".
 * @now_s: the wall clock (one reading per batch is enough). */
size_t fastpath_answer(struct worker *w, const uint8_t *q, size_t q_len, const struct sockaddr *peer,
		       uint64_t now_s, uint8_t *out, size_t cap);
/** Free the worker's memo of recent answers (worker_free() calls it). */
void fastpath_free(struct worker *w);
