/* cache/entry: the LMDB value of a cached RRset (FORMAT: cache-entry) and the
 * checks of its payload (FORMAT: cache-payload, in cache.h). Pure functions: no
 * LMDB, no I/O, so the fuzz target (fuzz/fuzz_cache_entry.c) drives exactly
 * the code that reads values back from the map. */
#pragma once

#include "cache/cache.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FORMAT: cache-key, cache-entry, cache-payload, cache-meta, cache-gen: bump on any change
 * to them. Stored in every environment's "meta" DB (a mismatch recreates the
 * cache) and as the first byte of every entry (an entry of another format is
 * never misread).
 * 1: one environment. 2: shards, a "cuts" DB, a 20-byte entry header.
 * 3: each shard in LMDB's unnamed DB, split by a space byte.
 * 4: the verdict's byte holds its reason too (why, for the EDE of a hit).
 * 5: the write generations of each shard (cache/gen.h, FORMAT: cache-gen), which
 *    every writer must keep: a process of format 4 or below would not. */
#define CACHE_FORMAT 5

/* FORMAT: cache-entry: the header's size; the payload follows it. */
#define ENTRY_HDR_LEN 20
/* An RRset with its signatures, or an SOA, came from one DNS message, which is
 * at most 65535 bytes (RFC 1035 4.2.2); the payload is smaller than that. */
#define ENTRY_DATA_MAX 65535

/** Whether the fields of an entry agree with each other and with the @type of
 * its key (RFC 6895: type 0 is reserved, so it can only mean our NXDOMAIN):
 * a reason (@why) only with an insecure or bogus verdict. */
bool entry_fields_ok(uint16_t type, uint8_t kind, uint8_t rank, uint8_t verdict, uint8_t why);

/** Whether @data (@len bytes) holds exactly what FORMAT: cache-payload says
 * for @kind with @n_rdata records and @n_sigs signatures. */
bool entry_payload_ok(uint8_t kind, uint16_t n_rdata, uint16_t n_sigs, const uint8_t *data,
		      uint32_t len);

/** Decode the value @v of @len bytes, stored under a key of @type, into @out
 * and *@expire_at_s (absolute, wall clock). out->data points into @v (borrowed:
 * valid as long as @v is; NULL when data_len is 0); out->ttl_s is 0 and
 * out->stale false (the caller counts them from the clock). Every length is
 * checked against @len and the payload against FORMAT: cache-payload, so a
 * value from a damaged or foreign file is refused, never misread.
 * Returns 0 or TERN_EMALFORMED. */
int cache_entry_decode(const uint8_t *v, size_t len, uint16_t type, struct cache_entry *out,
		       uint64_t *expire_at_s);

/** Bytes that entry_encode() writes for @e. */
size_t entry_size(const struct cache_entry *e);

/** Write @e, expiring at @expire_at_s, into @out (entry_size(e) bytes). */
void entry_encode(uint8_t *out, const struct cache_entry *e, uint64_t expire_at_s);
