/* cache/evict: making room in a full shard without wiping it. Runs inside a
 * write transaction of cache/shard; reads the recency table that lookups keep
 * in process memory, so that the read path never writes to LMDB. */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;

/** Pages that the shard's data takes, as @txn sees it (free pages not counted). */
size_t evict_used_pages(struct shard *s, MDB_txn *txn);

/** Evict from @s inside the write transaction @txn, in a window of at most
 * @window entries after the shard's CLOCK hand, until @need bytes are freed:
 * the entries that cannot be read or that expired longer ago than the stale
 * window and, if @min_age > 0, those not read or written for @min_age epochs
 * (never 0: what was used since the last eviction stays). Moves the hand to
 * where it stopped. The window bounds the pages that the transaction copies:
 * in a full map, keep it small. Sets *@n_deleted, *@freed_bytes (about: the
 * leaf space of the entries deleted), *@n_looked and *@looked_bytes (the
 * entries looked at, and their leaf space); returns an LMDB code. */
int evict_run(struct shard *s, MDB_txn *txn, uint64_t now_s, size_t window, size_t need,
	      unsigned min_age, long *n_deleted, size_t *freed_bytes, size_t *n_looked,
	      size_t *looked_bytes);

/** End an eviction: what was read before it is now one epoch older. */
void evict_epoch_next(struct shard *s);

/** The leaf space that an entry of @key_len and @value_len bytes takes, about. */
size_t evict_entry_bytes(size_t key_len, size_t value_len, size_t page_bytes);
