/* cache/gen: the write generations of a shard, for readers that keep copies of
 * what they read (resolver/fastpath's memo). A fixed array of buckets, each
 * picked by a hash of a key, in a file next to the shard's LMDB environment
 * (shard-N/gen), mapped shared: every process that opens the cache directory
 * sees every other's writes in it.
 *
 * A bucket holds the LMDB transaction id of the last write transaction that
 * put or deleted a key of that bucket (ids only grow; eviction, expiry and
 * removal are deletes like any other). A reader that read an entry in the
 * snapshot of transaction S holds what a read now would give as long as no
 * later transaction touched the entry's bucket: bucket <= S. So a write to
 * one name spoils only the copies of the names in its bucket, not those of
 * the whole shard.
 *
 * Ordering. A writer stores its own id T into the buckets of the keys it
 * touches while it holds LMDB's writer lock, BEFORE its commit, with a
 * release fence between (shard_commit()): a reader that sees the commit (a
 * snapshot >= T) and then loads a bucket (acquire) sees T or more, and a
 * reader whose copy is from S < T sees bucket >= T, hence a stale copy, as
 * soon as the write is done. A store after the commit would not do: a
 * writer killed (kill -9) between its commit and its store would leave the
 * bucket saying that nothing changed, for ever. Stored before, a writer
 * killed at any point leaves buckets with an id that may not be committed:
 * the next commit takes that same id (LMDB numbers a transaction as the last
 * commit + 1), so copies from before it are spoilt and copies from after it
 * are good: at worst a needless refill. A transaction that aborts, the same.
 * Under the writer lock, stores come in id order: a plain store is the max.
 *
 * Restarts and other files. Ids belong to one LMDB environment: they persist
 * with it, so the file does too (a restart keeps both). The file's header
 * holds a random epoch that the environment also records (shard.c, in the
 * transaction that opens the shard); an environment that is replaced removes
 * the file with it. A file without a valid header, of another format or
 * size, or whose epoch is not its environment's (a new file, or one that a
 * killed process was resetting) is reset under the writer lock: first the
 * header's floor is set to the opening transaction's id (every copy read
 * before it is spoilt), then the buckets are zeroed, then the epoch is
 * written to both. The floor is checked with the bucket. Garbage in a bucket
 * can only spoil copies (a too high id), never keep a stale one: a stale copy
 * needs a bucket lower than a committed write to it, which only a writer
 * that skipped its store could make.
 *
 * Includes only libc and LMDB. FORMAT: cache-gen (bump CACHE_FORMAT on any
 * change: processes sharing an environment must agree on it). */
#pragma once

#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEN_BUCKETS_MIN 4096
#define GEN_BUCKETS_MAX 65536
#define GEN_MAP_BYTES_PER_BUCKET 512 /* a bucket per about two entries of a full map */
#define GEN_FILE "gen"

/* FORMAT: cache-gen: the file's first page; the buckets (u64, host order: the
 * file never leaves the machine) follow it. */
struct gen_header {
	char magic[8];         /* "terngen\0" */
	uint32_t format;       /* CACHE_FORMAT */
	uint32_t n_buckets;    /* a power of two, GEN_BUCKETS_MIN..MAX */
	uint64_t epoch;        /* random; the environment's "\0gen" record holds it too */
	_Atomic uint64_t floor; /* copies read before this id are stale */
};
#define GEN_HEADER_BYTES 4096

struct gen {
	_Atomic uint64_t *bucket; /* NULL: no table (every copy is stale) */
	struct gen_header *hdr;
	uint32_t mask;
	uint64_t seed;  /* of the bucket hash: the same in every process */
	size_t map_len;
};

/** Open (create, or reset when it is not this environment's) the table in
 * @dir for the shard whose opening write transaction is @txn in @dbi, with a
 * map of @map_bytes (which sizes a new table), the buckets picked under
 * @seed. Puts the epoch record into @txn when it resets. Returns 0 or a
 * negative error (logged). */
int gen_open(struct gen *g, const char *dir, size_t map_bytes, uint64_t seed, MDB_txn *txn,
	     MDB_dbi dbi);
void gen_close(struct gen *g);

/** The bucket of the LMDB key @key (@len bytes). */
uint32_t gen_bucket(const struct gen *g, const uint8_t *key, size_t len);

/** Record that write transaction @txn_id touches @key: with the writer lock
 * held, before the commit (see the ordering above). */
static inline void gen_bump(struct gen *g, const uint8_t *key, size_t len, uint64_t txn_id)
{
	if (g->bucket)
		atomic_store_explicit(&g->bucket[gen_bucket(g, key, len)], txn_id,
				      memory_order_relaxed);
}

/** Whether no transaction after @snapshot has touched bucket @b. */
static inline bool gen_unchanged(const struct gen *g, uint32_t b, uint64_t snapshot)
{
	if (!g->bucket || b > g->mask)
		return false;
	return atomic_load_explicit(&g->hdr->floor, memory_order_acquire) <= snapshot &&
	       atomic_load_explicit(&g->bucket[b], memory_order_acquire) <= snapshot;
}
