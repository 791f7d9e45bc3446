/* resolver/store: from an upstream reply to RRsets and cache entries. Groups a
 * section's records into RRsets (owner, type), keeps only those in bailiwick of
 * the zone we asked, clamps TTLs (RFC 2181 8), ranks them (RFC 2181 5.4.1) and
 * hands them to cache/ in one batch. Knows nothing of how iteration proceeds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/wire.h"
#include "resolver/rrset.h"

struct arena;
struct config;
struct cache;

#define SECTION_RRSETS_MAX 64  /* RRsets kept per section; the rest is ignored */
#define SECTION_RRS_MAX 1024   /* records looked at per section */

/** The RRsets of section @sec of @m whose owners are at or below @bailiwick,
 * with names in RDATA decompressed, TTLs clamped by @cfg, and @rank set.
 * OPT records are skipped; RRSIGs are attached to the RRset they cover
 * (others are dropped). Each RRset's zone is @bailiwick (borrowed). Owned by @a. Returns the list (possibly
 * empty) or sets *@err to TERN_EMALFORMED / TERN_ELIMIT. */
struct rrset *store_section(struct arena *a, const struct msg *m, enum section sec,
			    const uint8_t *bailiwick, const struct config *cfg, uint8_t rank,
			    int *err);
/** The RRset in @list with owner @name and @type, or NULL. */
struct rrset *store_find(struct rrset *list, const uint8_t *name, uint16_t type);
/** The first RRset in @list owned by @name, or NULL. */
struct rrset *store_find_owner(struct rrset *list, const uint8_t *name);
/** Put every RRset of @list into the cache (one batch), each with its verdict
 * and, insecure or bogus, its reason (why). */
void store_rrsets(struct cache *c, struct arena *a, const struct rrset *list, uint64_t now_s);
/** Cache a negative answer (CACHE_NXDOMAIN when @nxdomain, else CACHE_NODATA for
 * @qtype) at @name, proven by @soa (may be NULL: then nothing is cached,
 * RFC 2308 5). The TTL is min(SOA TTL, SOA MINIMUM), capped by @cfg. The
 * entry's verdict is @verdict; insecure or bogus, its reason is soa->why (the
 * caller sets the answer's reason there). */
void store_negative(struct cache *c, struct arena *a, const struct config *cfg,
		    const uint8_t *name, uint16_t qtype, bool nxdomain, const struct rrset *soa,
		    uint8_t rank, uint8_t verdict, uint64_t now_s);
/** The negative TTL that store_negative() would use for @soa. */
uint32_t store_negative_ttl(const struct config *cfg, const struct rrset *soa);
