/* resolver/dot: DNS over TLS (RFC 7858) on a worker's tls:// listeners. The
 * stream carries length-prefixed messages as TCP does (RFC 7766): queries are
 * pipelined, each becomes a request at once, and answers go back in the order
 * they are ready, not the order asked. Back-pressure: at most DOT_PIPELINE_MAX
 * queries in flight per connection, then reading stops until answers leave.
 * Replies gain padding (RFC 8467) and edns-tcp-keepalive (RFC 7828) when the
 * query carried those options. */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "proto/tls.h"

struct worker;

#define DOT_PIPELINE_MAX 64

/** Accept a connection on the DoT listener @server with the context @ctx. */
void dot_accept(struct worker *w, uv_stream_t *server, SSL_CTX *ctx);
