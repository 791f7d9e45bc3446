/* resolver/policy: the optional policy stage. A client's query is shown to
 * the script of its tenant (chosen by DoH path, then by client prefix, else
 * the --policy script), which may pass it on, refuse it, say NXDOMAIN or
 * NODATA, or answer with local records (on_query); a second hook may filter
 * or replace the final answer (on_answer). Each script runs in an isolate per
 * worker (resolver/isolate.c); a script that fails, or runs out of its budget,
 * gets the configured failure mode for that query only: fail-open resolves as
 * if there were no policy, fail-closed answers SERVFAIL with an extended
 * error. The API scripts see is documented in man/tern-policy.7. With no
 * policy configured, both stages return at their first line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "resolver/pipeline.h"

struct config;
struct request;
struct worker;

/** Per-worker statistics of the policy stage. */
struct policy_stats {
	uint64_t calls, passed, blocked, answered, errors, over_budget, over_time, over_memory;
	uint64_t rebuilt; /* isolates replaced after running out of memory call after call */
	uint64_t ruled;   /* queries a tern.rule decided (also counted as passed, blocked, answered) */
};

/** True when @cfg names any policy script (then the fast path steps aside). */
bool policy_configured(const struct config *cfg);

/** Load every script of @cfg into isolates of @w (from the worker's thread or
 * before it starts). Returns 0, or a negative error after logging
 * "file:line: problem". A worker without policy is valid (returns 0). */
int policy_worker_init(struct worker *w);
/** Stop listening for reloads (from the worker's thread, when it stops). */
void policy_worker_stop(struct worker *w);
/** Free the worker's isolates (after its thread has ended). */
void policy_worker_free(struct worker *w);
/** Ask every worker to load its scripts again (thread-safe; from main()).
 * Each worker swaps the new isolates in between two queries; a script that
 * fails to load is reported with its file and line and the old one stays. */
void policy_reload(struct worker *workers, int n);
/** The worker's policy statistics (zeros without policy). */
struct policy_stats policy_stats_of(const struct worker *w);
/** Bytes the worker's isolates hold (0 without policy). */
size_t policy_mem_used(const struct worker *w);

/** The stage after admit: on_query. */
enum step policy_query_run(struct request *req);
/** The stage before answer: on_answer. */
enum step policy_answer_run(struct request *req);

/** What the UDP fast path (resolver/fastpath.c) may do with a cache hit. */
enum policy_fast {
	POLICY_FAST_PASS, /* the script passed it (or has nothing to say): send the cached answer */
	POLICY_FAST_FULL, /* take the full path */
};
/** For a cache hit of the plain UDP query @q (which the fast path has checked)
 * from @peer: run the client's on_query. A script with on_answer is not run
 * (the full path must show it the answer). When the script does anything but
 * pass, or fails, its verdict is handed over to the full path, which the
 * caller must start at once for the same bytes and peer: policy_query_run()
 * then applies it without running the script a second time. */
enum policy_fast policy_fast_query(struct worker *w, const uint8_t *q, size_t q_len,
				   const struct sockaddr *peer);

/** Check the scripts of @cfg load (for --check-config): 0, or a negative
 * error after writing "file:line: problem" to @why. */
int policy_check(const struct config *cfg, char *why, size_t why_cap);
