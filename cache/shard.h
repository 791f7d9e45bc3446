/* cache/shard: one shard of the cache, one LMDB environment in its own
 * directory: opening it (with its format and layout checks), batched writes,
 * and the in-memory recency table that eviction (cache/evict) reads. The
 * routing of keys to shards, and reading, are cache.c's. */
#pragma once

#include "cache/cache.h"
#include "cache/gen.h"
#include "cache/hash.h"
#include "cache/key.h"

#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FORMAT: cache-meta: what a shard records of the layout it belongs to. A shard
 * whose record differs from the cache directory's is replaced. */
struct shard_id {
	uint32_t n_shards;
	uint32_t index;
	uint8_t secret[HASH_KEY_LEN];
};

/* Where eviction stopped: a CLOCK hand over the key order. */
struct hand {
	uint8_t key[KEY_DB_MAX];
	size_t len; /* 0: not placed yet */
};

struct shard {
	MDB_env *env;
	MDB_dbi dbi; /* the unnamed DB: every key space (FORMAT: cache-key) */
	size_t map_pages;     /* the share of the cache size, in pages */
	size_t page_bytes;
	uint32_t stale_s;     /* struct cache_opts */
	uint64_t recency_seed;
	struct gen gen; /* write generations per key bucket, shared (cache/gen) */
	/* Recency, approximate and in process memory only: one 8-bit epoch per
	 * slot, the slot picked by hash_fast() of the key. A read stores the
	 * current epoch in its slot, and only when the slot holds another one, so
	 * that a hot name costs no write to shared memory; eviction ages entries
	 * by (epoch - slot) and moves the epoch on after each run.
	 * The table grows with the entries (about two slots each), inside one
	 * mapping reserved for the most the map can hold: the slots are hashed,
	 * so every page of a table sized for the map would be touched long before
	 * the map fills. It grows in place (recency_grow()), so a reader with the
	 * old mask still writes into the table; nothing is ever freed under it. */
	atomic_uchar *recency;
	atomic_uint recency_mask;
	uint32_t recency_max; /* slots reserved */
	atomic_uchar epoch; /* moved on by each eviction and each 1/64 of the map written */
	atomic_bool damage_logged;
	/* Eviction state. The hand and rng are touched only inside a write
	 * transaction (LMDB's writer lock guards them); the two counters also
	 * between transactions, by any writing thread: atomics, relaxed (they
	 * only steer when to evict). On cache lines of their own, away from what
	 * readers load. */
	_Alignas(64) struct hand hand;
	uint64_t rng;
	atomic_size_t high_pages; /* eviction starts above this; learnt from MAP_FULL */
	/* Leaf space that the last eviction freed and puts have not used up yet:
	 * deleting entries here and there leaves pages half empty, not free, so
	 * the pages in use say that the shard is full when the next puts would
	 * still find room. No eviction before they have. */
	atomic_size_t credit_bytes;
	size_t written_bytes; /* since the epoch last moved on; under the writer lock */
	/* One eviction at a time per shard (in this process): two at once would
	 * each free what was needed, and age the entries twice as fast. */
	atomic_bool evicting;
};

/** Open the shard in @dir (created if missing) with a map of @map_bytes. A
 * shard that is damaged, of another format, or of another layout than @id, is
 * replaced by an empty one (with a log warning). @stale_s and @recency_seed as
 * in struct shard. Returns 0 or a negative error. */
int shard_open(struct shard *s, const char *dir, size_t map_bytes, const struct shard_id *id,
	       uint32_t stale_s, uint64_t recency_seed);
/** Close the shard. No transaction on it may be left. */
void shard_close(struct shard *s);

/** Map an LMDB result to ours: errno values become -errno; LMDB's own codes
 * become TERN_ENOTFOUND, TERN_ELIMIT when a limit was hit, or -EIO (a damaged
 * file: logged once per shard, not once per lookup). */
int shard_err(struct shard *s, int rc);

/** Store the puts @puts[i] for which @which[i] is @index, all in one write
 * transaction, evicting first when the shard is above its high-water mark, and
 * once more (then retrying) when the map is full. The puts must have passed
 * the checks of cache_stash_many(). Returns 0 or a negative error; puts that
 * do not fit even after eviction are dropped. */
int shard_stash(struct shard *s, const struct cache_put *puts, const uint8_t *which,
		uint8_t index, size_t n, uint64_t now_s);

/** Delete every entry whose key, after its space byte, starts with the label
 * prefix @prefix (@len bytes), in every entry space. Returns the count, or a
 * negative error. */
long shard_remove(struct shard *s, const uint8_t *prefix, size_t len);

/** Commit the write transaction @txn of a shard: every gen_bump() of it is
 * made visible before the commit is (cache/gen.h). Returns an LMDB code. */
static inline int shard_commit(MDB_txn *txn)
{
	atomic_thread_fence(memory_order_release);
	return mdb_txn_commit(txn);
}

/** Entries stored in the shard, seen through the read transaction @txn. */
size_t shard_count(struct shard *s, MDB_txn *txn);

/** The recency slot of @key. */
static inline atomic_uchar *shard_slot(struct shard *s, const uint8_t *key, size_t len)
{
	uint32_t mask = atomic_load_explicit(&s->recency_mask, memory_order_relaxed);
	return &s->recency[hash_fast(s->recency_seed, key, len) & mask];
}

/** Mark @key as read now: a store only when the slot holds another epoch. */
static inline void shard_touch(struct shard *s, const uint8_t *key, size_t len)
{
	atomic_uchar *slot = shard_slot(s, key, len);
	unsigned char now = atomic_load_explicit(&s->epoch, memory_order_relaxed);
	if (atomic_load_explicit(slot, memory_order_relaxed) != now)
		atomic_store_explicit(slot, now, memory_order_relaxed);
}
