/* cache/impl: what the files of cache/ share, and what its unit tests may look
 * at: the cache as an array of shards, and the per-thread read transactions.
 * Not for other rooms. */
#pragma once

#include "cache/cache.h"
#include "cache/hash.h"
#include "cache/shard.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* One thread's read transactions on one cache: one per shard, reset between
 * reads (so that no old snapshot is pinned) and renewed on the next; in a hold
 * (cache_read_hold()), kept active until the release. */
struct readers {
	struct cache *c;
	struct readers *prev, *next;
	bool held;
	uint64_t active; /* bit i: txn[i] holds a snapshot (only in a hold) */
	MDB_txn *txn[CACHE_SHARDS_MAX];
	MDB_cursor *cuts[CACHE_SHARDS_MAX]; /* on "cuts", for cache_find_cut() */
};

struct cache {
	unsigned n_shards;
	uint8_t secret[HASH_KEY_LEN]; /* of the shard hash; FORMAT: cache-meta */
	pthread_key_t readers_key;
	/* Guards the list of readers; taken only when a thread first reads, when
	 * it exits, and at close: never per lookup. */
	pthread_mutex_t readers_lock;
	struct readers *readers;
	struct shard shards[]; /* n_shards */
};

/** The shard that holds the keys of @name (for tests). */
unsigned cache_shard_of(const struct cache *c, const uint8_t *name);
