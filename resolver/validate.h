/* resolver/validate: the DNSSEC stage of a resolution. Until issue #3 lands it
 * passes every result through unvalidated (verdict none, AD never set). */
#pragma once

#include "resolver/pipeline.h"

/** How far the chain of trust for a zone or an RRset goes. */
enum status { ST_SECURE, ST_INSECURE, ST_BOGUS, ST_PENDING };

enum step validate_run(struct resolution *r);
