/* resolver/worker: a thread with its loop; see worker.h. */
#include "resolver/worker.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "base/log.h"
#include "resolver/config.h"
#include "resolver/fastpath.h"
#include "resolver/policy.h"
#include "resolver/request.h"
#include "resolver/resolution.h"
#include "resolver/server.h"
#include "resolver/servers.h"

/* Resolutions keep their state in arenas of small blocks, many at once in a
 * burst of misses; freed, the blocks stay in this thread's malloc arena, in
 * holes between what lives on, which glibc gives back to the system only when
 * asked (malloc_trim: some 30-90 us here for a burst of a few hundred). So a
 * worker that has no resolution left asks at once, unless it asked less than
 * TRIM_GAP_MS ago (then a timer asks at the end of that gap), or at once after
 * enough of them ended: the memory of a burst is held while it lasts, not for
 * good, and sporadic misses pay at most one trim per gap. Under steady load
 * the worker is rarely idle and asks rarely. */
#define TRIM_AFTER_RESOLUTIONS 64
#define TRIM_GAP_MS 200

static void trim(struct worker *w)
{
	w->ended_since_trim = 0;
	w->last_trim_ms = uv_now(&w->loop);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void on_trim_timer(uv_timer_t *t)
{
	struct worker *w = t->data;
	if (w->n_resolutions == 0 && w->ended_since_trim > 0)
		trim(w);
}

/* The worker has no resolution in flight. */
static void idle(struct worker *w)
{
	uint64_t since = uv_now(&w->loop) - w->last_trim_ms;
	if (w->ended_since_trim >= TRIM_AFTER_RESOLUTIONS || since >= TRIM_GAP_MS)
		trim(w);
	else if (!uv_is_active((uv_handle_t *)&w->trim_timer))
		uv_timer_start(&w->trim_timer, on_trim_timer, TRIM_GAP_MS - since, 0);
}

static void on_stop(uv_async_t *a)
{
	struct worker *w = a->data;
	w->stopping = true;
	/* answer everyone still waiting (SERVFAIL) so that no request is lost
	 * silently, while the sockets to answer on are still open */
	for (int i = 0; i < COALESCE_BUCKETS; i++)
		while (w->inflight[i])
			resolution_finish(w->inflight[i], RCODE_SERVFAIL, EDE_NOT_READY,
					  "resolver shutting down");
	worker_drain(w);
	server_close(w);
	policy_worker_stop(w);
	uv_close((uv_handle_t *)&w->trim_timer, NULL);
	uv_close((uv_handle_t *)&w->stop_async, NULL);
}

int worker_init(struct worker *w, int index, const struct config *cfg, struct cache *cache)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	w->cfg = cfg;
	w->cache = cache;
	int rc = uv_loop_init(&w->loop);
	if (rc < 0)
		return rc;
	w->servers = servers_new();
	if (!w->servers)
		return -ENOMEM;
	uv_async_init(&w->loop, &w->stop_async, on_stop);
	w->stop_async.data = w;
	uv_timer_init(&w->loop, &w->trim_timer);
	w->trim_timer.data = w;
	uv_unref((uv_handle_t *)&w->trim_timer); /* it keeps no loop running */
	rc = policy_worker_init(w);
	if (rc < 0)
		return rc;
	return server_listen(w);
}

static void run(void *arg)
{
	struct worker *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

int worker_start(struct worker *w)
{
	return uv_thread_create(&w->thread, run, w);
}

void worker_stop(struct worker *w)
{
	uv_async_send(&w->stop_async);
}

void worker_join(struct worker *w)
{
	uv_thread_join(&w->thread);
}

static void close_any(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void worker_free(struct worker *w)
{
	/* handles left by a worker that never ran (start-up failed) */
	uv_walk(&w->loop, close_any, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	uv_loop_close(&w->loop);
	servers_free(w->servers);
	policy_worker_free(w);
	fastpath_free(w);
	free(w->udp);
	free(w->tcp);
}

void worker_drain(struct worker *w)
{
	if (w->draining)
		return; /* the outer drain loop will see what was queued */
	w->draining = true;
	while (w->ready_resolutions || w->ready_requests) {
		while (w->ready_resolutions) {
			struct resolution *r = w->ready_resolutions;
			w->ready_resolutions = r->ready_next;
			r->queued = false;
			resolution_run(r);
			resolution_unref(r); /* taken when it was queued */
		}
		while (w->ready_requests) {
			struct request *req = w->ready_requests;
			w->ready_requests = req->ready_next;
			req->queued = false;
			request_run(req);
		}
	}
	w->draining = false;
	if (w->n_resolutions == 0 && w->ended_since_trim > 0 && !w->stopping)
		idle(w);
}
