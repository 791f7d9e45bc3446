/* resolver/dot: DNS over TLS; see dot.h. */
#include "resolver/dot.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/log.h"
#include "proto/stream.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/encrypted.h"
#include "resolver/request.h"
#include "resolver/worker.h"

#define DOT_FAST_MAX 4096 /* the fast path gives at most a UDP-sized reply anyway */

struct dot_conn {
	struct tls_stream s;
	struct enc_node node;
	struct worker *w;
	int refs;           /* the open stream + one per request in flight */
	uint32_t n_inflight;
	bool processing;    /* in dot_process(): replies from inside must not re-enter */
	bool gone;          /* the stream is closed */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct stream_buf buf;
};

static void dot_reply(struct request *req);

static const struct transport dot_transport = { "dot", dot_reply, NULL };

static void dot_unref(struct dot_conn *c)
{
	if (--c->refs == 0)
		free(c);
}

static void dot_process(struct dot_conn *c)
{
	if (c->processing || c->s.closing)
		return;
	c->processing = true;
	struct worker *w = c->w;
	while (!c->s.closing) {
		uint16_t len;
		bool bad;
		const uint8_t *m = stream_next(&c->buf, &len, &bad);
		if (bad) {
			tls_stream_close(&c->s);
			break;
		}
		if (m) {
			if (c->n_inflight >= DOT_PIPELINE_MAX)
				break;
			/* a cache hit: answered here, no request */
			uint8_t out[2 + DOT_FAST_MAX];
			size_t fl = enc_fastpath(w, m, len, (struct sockaddr *)&c->peer, out + 2,
						 sizeof(out) - 2);
			if (fl > 0) {
				w->stats.queries_tcp++;
				w->enc->dot_queries++;
				out[0] = (uint8_t)(fl >> 8);
				out[1] = (uint8_t)fl;
				tls_stream_write(&c->s, out, fl + 2);
				tls_stream_touch(&c->s);
				stream_consume(&c->buf);
				continue;
			}
			c->n_inflight++;
			c->refs++;
			w->stats.queries_tcp++;
			w->enc->dot_queries++;
			tls_stream_touch(&c->s);
			if (request_start_tx(w, m, len, (struct sockaddr *)&c->peer, c->peer_len,
					     &dot_transport, c) < 0) {
				c->n_inflight--;
				c->refs--;
			}
			stream_consume(&c->buf);
			continue;
		}
		size_t room = sizeof(c->buf.data) - c->buf.len;
		ssize_t n = tls_stream_read(&c->s, c->buf.data + c->buf.len, room);
		if (n <= 0)
			break;
		c->buf.len += (size_t)n;
	}
	c->processing = false;
	if (!c->s.closing)
		tls_stream_pause(&c->s, c->n_inflight >= DOT_PIPELINE_MAX);
}

static void on_open(struct tls_stream *s)
{
	struct dot_conn *c = s->data;
	c->w->enc->handshakes++;
	if (tls_stream_resumed(s))
		c->w->enc->resumed++;
}

static void on_readable(struct tls_stream *s)
{
	struct dot_conn *c = s->data;
	struct worker *w = c->w;
	c->refs++;
	dot_process(c);
	worker_drain(w);
	dot_unref(c);
}

static void on_idle(struct tls_stream *s)
{
	struct dot_conn *c = s->data;
	/* RFC 7766 6.2.3, RFC 7858 3.4: idle connections close; one answering is not idle */
	if (c->n_inflight == 0)
		tls_stream_close(s);
}

static void on_closed(struct tls_stream *s)
{
	struct dot_conn *c = s->data;
	c->gone = true;
	enc_conn_gone(c->w, &c->node);
	dot_unref(c);
}

static const struct tls_stream_ops dot_ops = { on_open, on_readable, on_idle, on_closed };

void dot_accept(struct worker *w, uv_stream_t *server, SSL_CTX *ctx)
{
	struct dot_conn *c = malloc(sizeof(*c));
	if (!c)
		return;
	memset(c, 0, offsetof(struct dot_conn, buf));
	c->buf.len = 0;
	c->w = w;
	c->refs = 1;
	c->s.ops = &dot_ops;
	c->s.data = c;
	bool admitted = enc_conn_admit(w, &c->node, &c->s);
	if (tls_stream_accept(&c->s, &w->loop, server, ctx, w->cfg->tcp_idle_timeout_ms) < 0)
		return; /* closing: on_closed() frees it */
	if (!admitted || tls_stream_peer(&c->s, &c->peer, &c->peer_len) != 0)
		tls_stream_close(&c->s);
}

static void dot_reply(struct request *req)
{
	struct dot_conn *c = req->tx_ctx;
	c->n_inflight--;
	if (req->reply_len > 0 && !c->gone && !c->s.closing) {
		size_t cap = 2u + req->reply_len + 6 + 4 + PADDING_BLOCK;
		uint8_t *out = arena_alloc(req->arena, cap);
		size_t len = out ? enc_reply_finish(req, c->w->cfg->tcp_idle_timeout_ms, out + 2,
						    cap - 2) : 0;
		if (len > 0) {
			out[0] = (uint8_t)(len >> 8);
			out[1] = (uint8_t)len;
			tls_stream_write(&c->s, out, len + 2);
			tls_stream_touch(&c->s);
		}
	}
	request_free(req);
	if (!c->gone && !c->processing && c->s.paused && c->n_inflight < DOT_PIPELINE_MAX)
		tls_stream_pause(&c->s, false);
	dot_unref(c);
}
