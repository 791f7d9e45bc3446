/* resolver/doh: DNS over HTTPS (RFC 8484) on a worker's https:// and http://
 * listeners. */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "proto/tls.h"

struct worker;

/** Accept a connection on a DoH listener: over TLS with @ctx, or cleartext
 * (@behind_proxy: only from the configured proxies). */
void doh_accept(struct worker *w, uv_stream_t *server, SSL_CTX *ctx, bool behind_proxy);
