/* resolver/admit: may this client ask this, and is the question one we answer?
 * ACL by client prefix (default: loopback only, an open resolver is an
 * amplifier), opcode, class, meta types, EDNS version. Runs before any work. */
#pragma once

#include "resolver/pipeline.h"

enum step admit_run(struct request *req);
