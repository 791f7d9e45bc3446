/* resolver/rrset: RRsets and results as the resolver passes them between
 * stages: copies in an arena, in the cache's payload format so that a cache hit
 * and a fresh upstream answer look the same to the answer stage. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/wire.h"

struct arena;
struct cache_entry;

struct rrset {
	struct rrset *next;
	uint8_t *owner; /* uncompressed wire name, owned by the arena */
	uint16_t type;
	uint32_t ttl_s;
	uint32_t orig_ttl_s; /* from the cache: the TTL it was stored with; else ttl_s */
	uint8_t rank;     /* enum rank (cache/cache.h) */
	uint16_t n_rdata;
	uint8_t *rdata;   /* FORMAT: cache-payload: n_rdata x (u16 rdlen, rdata) */
	uint32_t rdata_len;
	uint16_t n_sigs;  /* the RRSIGs covering this RRset, same layout */
	uint8_t *sigs;
	uint32_t sigs_len;
	uint8_t verdict;  /* enum verdict (cache/cache.h) */
	uint8_t why;      /* insecure or bogus: enum dnssec_reason, why (cached with it); else 0 */
	uint8_t wildcard_labels; /* validated as a wildcard expansion: the RRSIG labels; else 0 */
	const uint8_t *zone; /* from a reply: the zone cut it came from (its bailiwick) */
};

/* EDE (RFC 8914) info codes that the resolver uses. */
enum ede {
	EDE_NONE = 0xffff,
	EDE_OTHER = 0,
	EDE_STALE_ANSWER = 3,
	EDE_PROHIBITED = 18,
	EDE_NOT_READY = 14,
	EDE_NOT_SUPPORTED = 21,
	EDE_NO_REACHABLE_AUTHORITY = 22,
	EDE_NETWORK_ERROR = 23,
	EDE_INVALID_DATA = 24,
};
/* The most bytes of EXTRA-TEXT an EDE option carries. */
#define EDE_TEXT_MAX 64

/** What to tell the client, before ID, flags and EDNS are added. */
struct result {
	uint8_t rcode;
	uint16_t ede;         /* enum ede, EDE_NONE when there is nothing to say */
	const char *ede_text; /* static text or NULL */
	bool stale;           /* built from expired cache entries (RFC 8767) */
	bool secure;          /* validated: every RRset in it is DNSSEC-secure (AD) */
	bool insecure_seen;   /* lookup: an entry that is not secure was used */
	uint8_t insecure_why; /* lookup: the first insecure entry's reason with an EDE */
	uint8_t bogus_why;    /* lookup: the first bogus entry's reason */
	bool bogus;           /* validation failed: rcode is SERVFAIL unless the client set CD */
	struct rrset *bogus_answer, *bogus_authority; /* what the CD client gets instead */
	uint8_t bogus_rcode;
	struct rrset *answer, *authority;
};

/** Append @s at the end of the list at *@head (s->next is cleared). */
void rrset_append(struct rrset **head, struct rrset *s);
/** A copy of @s (and its data) in @a, next cleared. NULL when the arena is full. */
struct rrset *rrset_copy(struct arena *a, const struct rrset *s);
/** The first RDATA of @s (borrowed), and its length in *@len. */
const uint8_t *rrset_rdata_first(const struct rrset *s, uint16_t *len);
/** Iterate the RDATAs: *@off starts at 0. Returns false at the end. */
bool rrset_rdata_next(const struct rrset *s, uint32_t *off, const uint8_t **rd, uint16_t *len);
/** An rrset from a cache entry (which must be CACHE_RRSET), data borrowed from @e. */
struct rrset *rrset_from_entry(struct arena *a, const uint8_t *owner, uint16_t type,
			       const struct cache_entry *e);
/** The SOA from a negative cache entry's payload as an rrset; NULL if none. */
struct rrset *rrset_from_negative(struct arena *a, const struct cache_entry *e);
/** The RRSIGs of @s as an RRset of type RRSIG (a view: data borrowed from @s). */
struct rrset rrset_sigs_view(const struct rrset *s);
/** The signer name in the first RRSIG of @s, or NULL (borrowed from @s). */
const uint8_t *rrset_signer(const struct rrset *s);
/** Smallest TTL over the lists (for a result); UINT32_MAX when empty. */
uint32_t result_min_ttl(const struct result *r);
