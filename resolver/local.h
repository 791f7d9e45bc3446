/* resolver/local: names the resolver answers itself, never asking anyone:
 * _dns.resolver.arpa (RFC 9462, Discovery of Designated Resolvers: SVCB
 * records for our own DoT and DoH listeners, so that clients upgrade to
 * encryption by themselves), the rest of resolver.arpa (RFC 9462 6.4), and
 * localhost (RFC 6761 6.3). A request stage between policy and lookup. */
#pragma once

#include "resolver/pipeline.h"

enum step local_run(struct request *req);
