/* cache/cache: what tern remembers, and for how long. Records live in LMDB in a
 * cache directory, split into shards (one LMDB environment each). Keys are
 * (owner name lowercased in reversed label order, type) so that names sort by
 * zone; values carry the absolute expiry (wall clock), the original TTL, the
 * trust rank, the DNSSEC verdict and the RRset in wire form.
 * This room knows no query and no server; it stores and returns RRsets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct cache;

/* Trust of the data, RFC 2181 5.4.1: higher replaces lower, never the reverse
 * (unless the stored entry has expired). Below RANK_AUTHORITY, data is never
 * an answer to a client (resolver/lookup.c). */
enum rank {
	RANK_NONE = 0,
	RANK_ADDITIONAL = 1, /* additional section, glue */
	RANK_REFERRAL = 2,   /* authority section of a non-authoritative answer (referral) */
	RANK_AUTHORITY = 3,  /* authority section of an authoritative answer, answer without AA */
	RANK_ANSWER = 4,     /* answer section of an authoritative answer */
};

enum cache_kind {
	CACHE_RRSET = 1,    /* positive: an RRset */
	CACHE_NODATA = 2,   /* RFC 2308: the name exists, the type does not */
	CACHE_NXDOMAIN = 3, /* RFC 2308: the name does not exist (stored under CACHE_TYPE_NXDOMAIN) */
};

/* The type under which an NXDOMAIN for a name is stored: type 0 is reserved (RFC 6895). */
#define CACHE_TYPE_NXDOMAIN 0

enum verdict {
	VERDICT_NONE = 0, /* not validated (no DNSSEC yet, or not asked) */
	VERDICT_INSECURE = 1,
	VERDICT_SECURE = 2,
	VERDICT_BOGUS = 3,
	VERDICT_INDETERMINATE = 4,
};

/* The largest cache_entry.why (FORMAT: cache-entry keeps it in 5 bits). */
#define CACHE_WHY_MAX 31

/* FORMAT: cache-payload
 * CACHE_RRSET:   n_rdata records of (u16 rdlen big-endian, rdlen bytes of uncompressed RDATA),
 *                then, for signatures, n_sigs records in the same layout (RRSIG RDATA).
 * CACHE_NODATA / CACHE_NXDOMAIN: the SOA proving it, as (SOA owner name in wire form,
 *                u16 rdlen, SOA RDATA uncompressed); may be empty (data_len 0). */
struct cache_entry {
	uint8_t kind;      /* enum cache_kind */
	uint8_t rank;      /* enum rank */
	uint8_t verdict;   /* enum verdict */
	/* with an insecure or bogus verdict: why, as the resolver numbers its
	 * reasons (resolver/dnssec.h enum dnssec_reason), 1 to CACHE_WHY_MAX, so
	 * that a hit gives the extended error (RFC 8914) a fresh answer gave; 0:
	 * none (always so with another verdict). Stored, never interpreted here. */
	uint8_t why;
	bool stale;        /* read: expired, served within a stale window (RFC 8767); ttl_s is 0 */
	uint32_t ttl_s;    /* stash: the TTL to keep it; read: the seconds left (counted down) */
	uint32_t orig_ttl_s; /* read: the TTL it was stored with */
	uint16_t n_rdata;
	uint16_t n_sigs;
	const uint8_t *data; /* the payload, see FORMAT above */
	uint32_t data_len;
};

/** One record set to store, for cache_stash_many(). */
struct cache_put {
	const uint8_t *name; /* owner, uncompressed wire form, any case */
	uint16_t type;       /* CACHE_TYPE_NXDOMAIN for an NXDOMAIN entry */
	struct cache_entry entry;
};

/** Shards when the caller does not say: writes to different shards never wait
 * on each other, and 4 covers the worker threads of the machines tern targets
 * without spreading a small cache too thin. */
#define CACHE_SHARDS_DEFAULT 4
#define CACHE_SHARDS_MAX 64
/** The smallest map of one shard. Below this, the pages that LMDB copies on
 * write and frees only two commits later leave too little room for entries. */
#define CACHE_SHARD_MIN_BYTES (512 * 1024)
/** The smallest cache cache_open() accepts (it has one shard, then). */
#define CACHE_MIN_BYTES CACHE_SHARD_MIN_BYTES
/** How long expired entries are kept in preference to evicting others, when
 * the caller does not say: RFC 8767 5 suggests a stale limit of 1 to 3 days. */
#define CACHE_STALE_DEFAULT_S 86400

struct cache_opts {
	size_t max_bytes;  /* the whole cache, split evenly over the shards */
	/* 1 to CACHE_SHARDS_MAX; 0: CACHE_SHARDS_DEFAULT, or fewer when max_bytes
	 * does not give each CACHE_SHARD_MIN_BYTES */
	unsigned n_shards;
	/* true: n_shards is only for a directory without a layout; one that has
	 * a layout keeps its shard count (when its shards fit in max_bytes), so
	 * that processes sharing a directory agree whatever they ask, and a
	 * restart that asks for another count keeps the cache. */
	bool keep_layout;
	/* Entries expired longer than this are the first to be evicted when a shard
	 * fills; entries expired for less may still be served stale. Set it to the
	 * resolver's serve-stale window (0: serve-stale off). */
	uint32_t stale_s;
};

/** Open (creating it if needed) the cache in directory @dir (created if
 * missing) with @opts. The cache holds opts->n_shards LMDB environments, in
 * @dir/shard-N/, each with a map of max_bytes / n_shards; @dir itself holds the
 * layout (format, shard count, the secret of the shard hash). A cache written
 * by an incompatible version, with another shard count, or one that cannot be
 * read, is replaced by a fresh one (with a log warning; with keep_layout, a
 * directory's own count is kept instead when its shards fit in max_bytes); a
 * damaged shard alone is replaced alone. Several processes may open one
 * directory at once and share it, if they ask for the same shard count or
 * set keep_layout. A cache does not cross
 * fork() (LMDB's rule): a child process opens its own.
 * Returns 0 and *@out, or a negative error (-EINVAL if n_shards is above
 * CACHE_SHARDS_MAX or max_bytes below n_shards * CACHE_SHARD_MIN_BYTES). */
int cache_open_ex(struct cache **out, const char *dir, const struct cache_opts *opts);
/** cache_open_ex() with n_shards 0 (CACHE_SHARDS_DEFAULT shards, fewer for a
 * small cache) and stale_s CACHE_STALE_DEFAULT_S. */
int cache_open(struct cache **out, const char *dir, size_t max_bytes);
/** Close the cache. Every thread must be done with it. */
void cache_close(struct cache *c);

/** Store @n entries: one write transaction per shard that they touch, committed
 * before return (a read right after sees them). Each entry replaces what is
 * stored under its (name, type) only if the stored one has expired or has a
 * rank not higher than the new one. Entries with ttl_s 0 are not stored. The
 * entries are copied; the caller keeps ownership of @puts. A full shard evicts
 * (expired entries first, then the least recently used) to make room.
 * Returns 0 or a negative error (the cache being full is not an error: entries
 * that still do not fit are dropped). A malformed entry (bad name, kind that
 * does not fit the type, payload not as FORMAT: cache-payload says) is skipped,
 * the others are stored, and the result is TERN_EMALFORMED. */
int cache_stash_many(struct cache *c, const struct cache_put *puts, size_t n, uint64_t now_s);
/** cache_stash_many() for one entry. */
int cache_stash(struct cache *c, const uint8_t *name, uint16_t type, const struct cache_entry *e,
		uint64_t now_s);

/** Called by cache_read() with the entry found. @e and e->data point into the
 * LMDB map (borrowed: valid only until the callback returns; copy what you
 * keep). The callback must not call into the cache. Its return value is
 * cache_read()'s. */
typedef int (*cache_read_fn)(void *ctx, const struct cache_entry *e);

/** Look up (@name, @type) as fresh at @now_s and call @fn(@ctx, entry) on it,
 * without copying: the path of every cache-hit answer. e->ttl_s is the time
 * left. No allocation, no lock, no write to shared memory in the steady state:
 * safe to call from many threads at once (each thread keeps one read
 * transaction per shard, reset between calls).
 * Returns what @fn returned, TERN_ENOTFOUND (absent or expired; @fn is not
 * called), TERN_EMALFORMED (@name is not a name) or another negative error. */
int cache_read(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
	       cache_read_fn fn, void *ctx);
/** Keep this thread's read snapshots from one cache_read() to the next until
 * cache_read_release(), so that a batch of lookups (say, one recvmmsg() worth
 * of questions) renews each shard's read transaction once, not once per
 * lookup (renew and reset are some 5% of a lookup). Each shard's
 * snapshot is taken by the first read of it in the hold: writes made since by
 * other threads or processes are seen only after the release; this thread's
 * own are (cache_stash_many() ends its snapshots of the shards it writes). A
 * snapshot pins the pages it sees: hold for one batch, not longer. Not nested.
 * Returns 0 or -ENOMEM. */
int cache_read_hold(struct cache *c);
/** End this thread's hold (and its snapshots). */
void cache_read_release(struct cache *c);

/** Names an entry that cache_read_ref() found, so that a caller keeping a copy
 * of what it built from the entry (resolver/fastpath's memo) can tell cheaply
 * that a read now would see the same bytes. */
struct cache_ref {
	uint64_t snapshot;  /* its shard's LMDB transaction id at the read */
	uint64_t expire_s;  /* its absolute expiry (wall clock) */
	uint32_t shard;
	uint32_t slot;      /* its recency slot */
	uint32_t bucket;    /* its bucket of write generations (cache/gen.h) */
	uint8_t touched;    /* the recency epoch cache_ref_current() last marked it in */
};

/** cache_read(), and when @fn is called (whatever it returns), *@ref names
 * the entry it was given. */
int cache_read_ref(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		   cache_read_fn fn, void *ctx, struct cache_ref *ref);
/** Whether a read of @ref's entry now would find exactly what
 * cache_read_ref() found: true when no write since (in this process or
 * another) has put or deleted a key that shares the entry's bucket of write
 * generations (some 64K per shard, by a hash of the key): writes to other
 * names of the shard leave it current. Then the entry is marked as read for
 * eviction, as a read marks it. It takes no read snapshot (a hold has no
 * effect on it): one load from the shared generations.
 * Expiry is the caller's to check against ref->expire_s: the TTL left at
 * @now_s is min(expire_s - now_s, the TTL it was stored with), as
 * cache_read() gives it. No allocation, no lock. */
bool cache_ref_current(struct cache *c, struct cache_ref *ref);

/** cache_read(), but an entry that expired at most @stale_s seconds before
 * @now_s is passed too, with e->stale set and e->ttl_s 0 (RFC 8767: the caller
 * picks the TTL it answers with). A fresh entry comes with stale false. */
int cache_read_stale(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		     uint32_t stale_s, cache_read_fn fn, void *ctx);

/** Find the entry for (@name, @type) that has not expired at @now_s.
 * On success fills @out; out->data is a copy owned by @a (nothing points into
 * the LMDB map after return; NULL when data_len is 0) and out->ttl_s is the time
 * left. TERN_ELIMIT if @a is at its cap.
 * Returns 0, TERN_ENOTFOUND (absent or expired) or a negative error.
 * Lock-free: safe to call from many threads at once. */
int cache_find(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s, struct arena *a,
	       struct cache_entry *out);
/** cache_find() with the stale window of cache_read_stale(). */
int cache_find_stale(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		     uint32_t stale_s, struct arena *a, struct cache_entry *out);

/** The closest enclosing zone cut of @name: its deepest ancestor (or @name
 * itself) with a fresh NS RRset (kind CACHE_RRSET) at @now_s. Writes that
 * ancestor, lowercased, in uncompressed wire form to @zone_out, and its NS
 * RRset to @ns_out as cache_find() would (data owned by @a). A few ordered
 * lookups in @name's shard, then one lookup each for its TLD and the root.
 * Returns 0, TERN_ENOTFOUND (no cut cached, not even the root),
 * TERN_EMALFORMED, TERN_ELIMIT (@a at its cap) or a negative error. */
int cache_find_cut(struct cache *c, const uint8_t *name, uint64_t now_s, struct arena *a,
		   uint8_t zone_out[255], struct cache_entry *ns_out);

/** For aggressive negative caching (RFC 8198): the fresh NSEC RRset of zone
 * @zone whose owner is @name or its closest canonical predecessor among the
 * cached NSECs of the zone (RFC 4034 6.1). Its owner goes to @owner_out
 * (lowercased wire form), its entry to @out as cache_find() would.
 * Only zones of two labels and more (the zone's keys share a shard).
 * Returns 0, TERN_ENOTFOUND or a negative error. */
int cache_find_nsec(struct cache *c, const uint8_t *zone, const uint8_t *name, uint64_t now_s,
		    struct arena *a, uint8_t owner_out[255], struct cache_entry *out);

/** cache_find_nsec() for entries of type @type (NSEC3 records, whose owners
 * are hashes under the zone, ordered the same way). */
int cache_find_before(struct cache *c, const uint8_t *zone, const uint8_t *name, uint16_t type,
		      uint64_t now_s, struct arena *a, uint8_t owner_out[255],
		      struct cache_entry *out);

/** Remove every entry at @name and, if @subtree, below it. Returns the count or an error. */
int cache_remove(struct cache *c, const uint8_t *name, bool subtree);

/** Number of entries (expired or not) currently stored. */
size_t cache_count(struct cache *c);
