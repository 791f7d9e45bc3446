/* resolver/worker: one thread, one libuv loop. A worker owns its listening
 * sockets, its client sessions, its upstream sockets, its table of resolutions
 * in flight (coalescing) and its server RTT table. Nothing here is shared with
 * another worker except the cache and the immutable config. The stages never
 * touch sockets: they queue work and the worker does the I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct cache;
struct config;
struct policy;
struct encrypted;
struct fp_memo;
struct request;
struct resolution;
struct servers;
struct udp_listener;

#define COALESCE_BUCKETS 1024
#define UPSTREAM_SHARE_BUCKETS 256

struct upstream_io;

struct worker_stats {
	uint64_t queries_udp, queries_tcp, answers, formerr, refused, servfail;
	uint64_t cache_hits, cache_misses, upstream_queries, upstream_timeouts, prefetches, stale_answers;
	uint64_t memo_hits; /* cache hits answered from the fast path's memo (resolver/fastpath.c) */
};

struct worker {
	int index;
	uv_loop_t loop;
	uv_async_t stop_async;
	uv_thread_t thread;
	const struct config *cfg;
	struct cache *cache;
	struct servers *servers; /* RTT and back-off per upstream address */

	/* listening handles, one UDP and one TCP per listen address */
	struct udp_listener *udp;
	uv_tcp_t *tcp;
	int n_listen;
	uint32_t n_tcp_conns;
	struct encrypted *enc;   /* DoT/DoH listeners and connections (resolver/encrypted.c) */

	/* resolutions in flight, by question (coalescing) */
	struct resolution *inflight[COALESCE_BUCKETS];
	uint32_t n_resolutions;
	uint32_t n_prefetch;
	/* Giving back what resolutions freed (worker_drain()): the resolutions
	 * ended since the worker last did, and the timer of an idle worker. */
	uint32_t ended_since_trim;
	uint64_t last_trim_ms; /* uv_now() of the last malloc_trim */
	uv_timer_t trim_timer;
	/* UDP queries in flight that another resolution may share (upstream.c) */
	struct upstream_io *upstream_shared[UPSTREAM_SHARE_BUCKETS];
	struct resolution *last_created; /* by the last resolution_get(); NULL if it joined one */
	/* ready to run again (woken by a resolution that finished) */
	struct request *ready_requests;
	struct resolution *ready_resolutions;
	bool draining;
	bool stopping;

	struct policy *policy;    /* the policy isolates (resolver/policy.c); NULL: none */
	struct fp_memo *fp_memo;  /* recent cache-hit answers (resolver/fastpath.c); NULL: none yet */

	uint64_t next_request_no; /* for log lines: requests are numbered, never named */
	struct worker_stats stats;
};

/** Set up a worker (its loop and listening sockets) in the calling thread.
 * Returns 0 or a negative error (already logged). */
int worker_init(struct worker *w, int index, const struct config *cfg, struct cache *cache);
/** Start the worker's thread, which runs the loop until worker_stop(). */
int worker_start(struct worker *w);
/** Ask the worker to stop (thread-safe); worker_join() waits for it. */
void worker_stop(struct worker *w);
void worker_join(struct worker *w);
/** Free what worker_init() made, after the thread has ended. */
void worker_free(struct worker *w);

/** Run every request and resolution that was woken, until none is left. Called
 * at the end of every I/O callback so that stages never recurse into each other. */
void worker_drain(struct worker *w);
