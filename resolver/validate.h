/* resolver/validate: the DNSSEC stage of a resolution. Until issue #3 lands it
 * passes every result through unvalidated (verdict none, AD never set). */
#pragma once

#include <stdint.h>

#include "resolver/pipeline.h"

struct arena;
struct cache;
struct resolution;
struct result;
struct rrset;

/** How far the chain of trust for a zone or an RRset goes. */
enum status { ST_SECURE, ST_INSECURE, ST_BOGUS, ST_PENDING };

enum step validate_run(struct resolution *r);

/** A referral from zone r->cut.zone to @child carries the child's DS RRset,
 * or NSEC/NSEC3 records proving there is none, in @auth. When the parent's
 * keys are cached as secure, check them now and cache the verdict: the DS
 * query the chain of trust would otherwise send is saved. Otherwise, or when
 * anything does not check out, nothing is cached and the DS is asked later. */
void validate_referral(struct resolution *r, struct rrset *auth, const uint8_t *child);

/** A complete answer from the cache, not bogus, with data that is not secure
 * (@res->insecure_seen): give it the extended error (RFC 8914: EDE 1, 2 or 27)
 * the validation that judged it gave, found again in the cache: the DS RRset
 * of its zone or of a zone above it (no usable algorithm or digest), or the
 * zone's NSEC3 chain (iterations above the limit, negative answers). The zone
 * is the SOA owner of a negative answer, or the RRSIG signer of the last
 * answer RRset; unsigned data costs nothing here. Leaves @res->ede alone when
 * it is set already or nothing explains the verdict. */
void validate_cached_ede(struct cache *c, struct arena *a, uint64_t now_s, struct result *res);
