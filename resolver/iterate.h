/* resolver/iterate: the iterative algorithm (RFC 1034 5.3.3) as a state
 * machine over enum iter_state: start at the closest zone cut known in the
 * cache (priming the root per RFC 8109 when nothing is), minimise the QNAME
 * (RFC 9156), pick a server by smoothed RTT, follow referrals and CNAMEs, fetch
 * the addresses of glueless NS names as sub-resolutions, and stop at hard limits.
 * It does no I/O: it fills r->uq and returns STEP_WAIT; the worker sends it. */
#pragma once

#include "resolver/pipeline.h"

#define REFERRALS_MAX 30     /* delegations followed per resolution */
#define ADDR_TRIES_MAX 2     /* queries to one address per step */
#define QMIN_ONE_LABEL 4     /* RFC 9156 MINIMISE_ONE_LAB */
#define QMIN_STEPS_MAX 10    /* RFC 9156 MAX_MINIMISE_COUNT */
#define REDELEGATIONS_MAX 2  /* cuts given up for the parent's when their glue is gone */

struct resolution;

enum step iterate_run(struct resolution *r);
