/* resolver/validate: the DNSSEC stage of a resolution. Until issue #3 lands it
 * passes every result through unvalidated (verdict none, AD never set). */
#pragma once

#include <stdint.h>

#include "resolver/pipeline.h"

struct resolution;
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
