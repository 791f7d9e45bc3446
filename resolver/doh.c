/* resolver/doh: DNS over HTTPS; see doh.h. Not yet: connections are closed. */
#include "resolver/doh.h"

#include <stdlib.h>

#include "resolver/worker.h"

static void closed(uv_handle_t *h)
{
	free(h);
}

void doh_accept(struct worker *w, uv_stream_t *server, SSL_CTX *ctx, bool behind_proxy)
{
	uv_tcp_t *t = calloc(1, sizeof(*t));
	if (!t)
		return;
	uv_tcp_init(&w->loop, t);
	(void)uv_accept(server, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, closed);
}
