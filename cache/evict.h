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

/** Delete up to about @need bytes of entries from @s inside the write
 * transaction @txn, looking at a window of about @window entries after the
 * shard's CLOCK hand: first the entries that cannot be read or that expired
 * longer ago than the stale window; then, if that was not enough and @lru,
 * the least recently read of the window (by the recency table), but none read since
 * the last eviction, and never more than three quarters of what lives in the
 * window. Moves the hand past the window. The window bounds the pages that the
 * transaction copies: in a full map, keep it small. Sets *@n_deleted,
 * *@freed_bytes (about: the leaf space of the entries deleted) and *@n_looked;
 * returns an LMDB code. */
int evict_run(struct shard *s, MDB_txn *txn, uint64_t now_s, size_t need, size_t window,
	      bool lru, long *n_deleted, size_t *freed_bytes, size_t *n_looked);

/** End an eviction: what was read before it is now one epoch older. */
void evict_epoch_next(struct shard *s);

/** The leaf space that an entry of @key_len and @value_len bytes takes, about. */
size_t evict_entry_bytes(size_t key_len, size_t value_len, size_t page_bytes);
