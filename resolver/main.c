/* resolver/main: ternd. Loads the configuration, opens the cache, starts one
 * worker per thread, then waits for SIGTERM/SIGINT and stops them. Signals are
 * blocked in every thread and taken here with sigwait(), so no handler runs in
 * the middle of a worker's work. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/log.h"
#include "cache/cache.h"
#include "resolver/config.h"
#include "resolver/policy.h"
#include "resolver/encrypted.h"
#include "resolver/worker.h"

int main(int argc, char **argv)
{
	static struct config cfg;
	switch (config_load(&cfg, argc, argv)) {
	case CONFIG_RUN:
		break;
	case CONFIG_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CONFIG_EXIT_FAIL:
		config_free(&cfg);
		return 1;
	}
	log_threshold = (enum log_level)cfg.verbosity;

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* an ignored signal is discarded even while blocked: started under nohup
	 * (or by a parent that ignores SIGHUP), sigwait() would never see a reload */
	signal(SIGHUP, SIG_DFL);

	struct cache *cache;
	/* Readers never lock: shards only spread the writers, and a worker thread
	 * writes to one shard at a time, so one shard per worker. Every shard has
	 * its fixed pages (meta, free list, pages freed on copy-on-write), which a
	 * small cache would pay K times over. A directory in use keeps its count. */
	size_t fit = cfg.cache_size / CACHE_SHARD_MIN_BYTES;
	unsigned n_shards = cfg.threads > CACHE_SHARDS_MAX ? CACHE_SHARDS_MAX : (unsigned)cfg.threads;
	if (n_shards > fit)
		n_shards = fit ? (unsigned)fit : 1;
	struct cache_opts copts = {
		.max_bytes = cfg.cache_size,
		.n_shards = n_shards ? n_shards : 1,
		.keep_layout = true,
		.stale_s = cfg.serve_stale_s,
	};
	int rc = cache_open_ex(&cache, cfg.cache_dir, &copts);
	if (rc < 0) {
		log_err("cannot open the cache in %s: %s", cfg.cache_dir, tern_strerror(rc));
		config_free(&cfg);
		return 1;
	}
	struct worker *workers = calloc((size_t)cfg.threads, sizeof(*workers));
	int n_started = 0, status = 0;
	if (!workers) {
		status = 1;
		goto out;
	}
	for (int i = 0; i < cfg.threads; i++) {
		if (worker_init(&workers[i], i, &cfg, cache) < 0) {
			worker_free(&workers[i]);
			status = 1;
			goto stop;
		}
		if (worker_start(&workers[i]) < 0) {
			worker_free(&workers[i]);
			status = 1;
			goto stop;
		}
		n_started++;
	}
	log_info("ready: %d worker%s", n_started, n_started == 1 ? "" : "s");
	for (;;) {
		int sig;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* SIGHUP: the TLS certificate and key are read again (the rest of a
		 * reload arrives with the control tool) */
		if (sig == SIGHUP)
			enc_reload(workers, n_started);
		if (sig == SIGHUP)
			policy_reload(workers, n_started); /* policy scripts, into new isolates */
	}
	log_info("stopping");
stop:
	for (int i = 0; i < n_started; i++)
		worker_stop(&workers[i]);
	struct worker_stats total = { 0 };
	for (int i = 0; i < n_started; i++) {
		worker_join(&workers[i]);
		const struct worker_stats *st = &workers[i].stats;
		total.answers += st->answers;
		total.cache_hits += st->cache_hits;
		total.memo_hits += st->memo_hits;
		total.cache_misses += st->cache_misses;
		worker_free(&workers[i]);
	}
	/* counts only, never a name */
	if (n_started)
		log_info("stats: %" PRIu64 " answers, %" PRIu64 " cache hits (%" PRIu64
			 " from the memo), %" PRIu64 " misses",
			 total.answers, total.cache_hits, total.memo_hits, total.cache_misses);
out:
	free(workers);
	cache_close(cache);
	config_free(&cfg);
	return status;
}
