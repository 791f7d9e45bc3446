/* resolver/aggressive: NXDOMAIN and NODATA synthesised from cached, validated
 * NSEC records (RFC 8198); see aggressive.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "resolver/lookup.h"

struct arena;
struct cache;
struct result;

/** For a question the cache has no entry for: LOOKUP_COMPLETE with @res set
 * (NXDOMAIN or NODATA, secure, the SOA and, with @want_proofs, the NSECs in
 * the authority section), or LOOKUP_PARTIAL when no cached proof covers it. */
enum lookup_outcome aggressive_lookup(struct cache *c, struct arena *a, uint64_t now,
				      const uint8_t *name, uint16_t qtype, bool want_proofs,
				      struct result *res);
