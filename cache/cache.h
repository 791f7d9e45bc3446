/* cache/cache: what tern remembers, and for how long. Records live in LMDB in a
 * cache directory. Keys are (owner name lowercased in reversed label order, type)
 * so that names sort by zone; values carry the absolute expiry (wall clock), the
 * original TTL, the trust rank, the DNSSEC verdict and the RRset in wire form.
 * This room knows no query and no server; it stores and returns RRsets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct cache;

/* Trust of the data, RFC 2181 5.4.1: higher replaces lower, never the reverse
 * (unless the stored entry has expired). */
enum rank {
	RANK_NONE = 0,
	RANK_ADDITIONAL = 1, /* additional section, glue */
	RANK_REFERRAL = 2,   /* authority section of a non-authoritative answer (referral) */
	RANK_AUTHORITY = 3,  /* authority section of an authoritative answer */
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

/* FORMAT: cache-payload
 * CACHE_RRSET:   n_rdata records of (u16 rdlen big-endian, rdlen bytes of uncompressed RDATA),
 *                then, for signatures, n_sigs records in the same layout (RRSIG RDATA).
 * CACHE_NODATA / CACHE_NXDOMAIN: the SOA proving it, as (SOA owner name in wire form,
 *                u16 rdlen, SOA RDATA uncompressed); may be empty (data_len 0). */
struct cache_entry {
	uint8_t kind;      /* enum cache_kind */
	uint8_t rank;      /* enum rank */
	uint8_t verdict;   /* enum verdict */
	uint32_t ttl_s;    /* stash: the TTL to keep it; find: the seconds left (counted down) */
	uint32_t orig_ttl_s; /* find: the TTL it was stored with */
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

/** The smallest map cache_open() accepts: LMDB's own pages plus some entries. */
#define CACHE_MIN_BYTES (256 * 1024)

/** Open (creating it if needed) the cache in directory @dir (created if missing),
 * with a map of at most @max_bytes. A cache written by an incompatible version,
 * or one that cannot be read, is replaced by a fresh one (with a log warning).
 * Returns 0 and *@out, or a negative error (-EINVAL if @max_bytes is below
 * CACHE_MIN_BYTES). */
int cache_open(struct cache **out, const char *dir, size_t max_bytes);
/** Close the cache. Every thread must be done with it. */
void cache_close(struct cache *c);

/** Store @n entries in one write transaction. Each entry replaces what is stored
 * under its (name, type) only if the stored one has expired or has a rank not
 * higher than the new one. Entries with ttl_s 0 are not stored. The entries are
 * copied; the caller keeps ownership of @puts. Returns 0 or a negative error
 * (the cache being full is not an error: entries are dropped). A malformed
 * entry (bad name, kind that does not fit the type, payload not as FORMAT:
 * cache-payload says) is skipped, the others are stored, and the result is
 * TERN_EMALFORMED. */
int cache_stash_many(struct cache *c, const struct cache_put *puts, size_t n, uint64_t now_s);
/** cache_stash_many() for one entry. */
int cache_stash(struct cache *c, const uint8_t *name, uint16_t type, const struct cache_entry *e,
		uint64_t now_s);

/** Find the entry for (@name, @type) that has not expired at @now_s.
 * On success fills @out; out->data is a copy owned by @a (nothing points into
 * the LMDB map after return; NULL when data_len is 0) and out->ttl_s is the time
 * left. TERN_ELIMIT if @a is at its cap.
 * Returns 0, TERN_ENOTFOUND (absent or expired) or a negative error.
 * Lock-free: safe to call from many threads at once. */
int cache_find(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s, struct arena *a,
	       struct cache_entry *out);

/** Remove every entry at @name and, if @subtree, below it. Returns the count or an error. */
int cache_remove(struct cache *c, const uint8_t *name, bool subtree);

/** Number of entries (expired or not) currently stored. */
size_t cache_count(struct cache *c);
