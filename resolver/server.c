/* resolver/server: client transports (UDP, TCP) on the worker's loop. */
#include "resolver/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/arena.h"
#include "base/log.h"
#include "proto/listen.h"
#include "proto/stream.h"
#include "resolver/config.h"
#include "resolver/encrypted.h"
#include "resolver/request.h"
#include "resolver/udp.h"
#include "resolver/worker.h"

struct tcp_conn {
	uv_tcp_t handle;
	uv_timer_t idle;
	struct worker *w;
	int refs;          /* open connection + one per request in flight */
	int open_handles;  /* uv handles not yet closed */
	bool closing;
	bool reading;
	bool processing;   /* in tcp_process(): a reply sent from inside must not re-enter */
	uint32_t n_inflight;
	struct stream_buf buf;
};

/* Our own listen address as text, for operator messages (never a client's). */
static void addr_to_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	}
}

static void tcp_conn_close(struct tcp_conn *c);

/* ---- TCP ---- */

static void tcp_maybe_free(struct tcp_conn *c)
{
	if (c->refs == 0 && c->open_handles == 0) {
		c->w->n_tcp_conns--;
		free(c);
	}
}

void tcp_conn_unref(struct tcp_conn *c)
{
	c->refs--;
	tcp_maybe_free(c);
}

static void tcp_handle_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	c->open_handles--;
	tcp_maybe_free(c);
}

static void tcp_conn_close(struct tcp_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->handle, tcp_handle_closed);
	uv_close((uv_handle_t *)&c->idle, tcp_handle_closed);
	c->refs--; /* the open connection's reference */
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;
	size_t room = sizeof(c->buf.data) - c->buf.len;
	*buf = uv_buf_init((char *)c->buf.data + c->buf.len, (unsigned)room);
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void tcp_process(struct tcp_conn *c)
{
	struct worker *w = c->w;
	if (c->processing)
		return;
	c->processing = true;
	while (!c->closing && c->n_inflight < TCP_PIPELINE_MAX) {
		uint16_t len;
		bool bad;
		const uint8_t *m = stream_next(&c->buf, &len, &bad);
		if (bad) {
			c->processing = false;
			tcp_conn_close(c);
			return;
		}
		if (!m)
			break;
		w->stats.queries_tcp++;
		c->n_inflight++;
		c->refs++;
		uv_timer_again(&c->idle);
		struct sockaddr_storage peer;
		int plen = sizeof(peer);
		if (uv_tcp_getpeername(&c->handle, (struct sockaddr *)&peer, &plen) != 0)
			memset(&peer, 0, sizeof(peer));
		request_start(w, m, len, (struct sockaddr *)&peer, (socklen_t)plen, NULL, c);
		stream_consume(&c->buf);
	}
	c->processing = false;
	if (c->closing)
		return;
	/* back-pressure: stop reading while the pipeline is full or the buffer is */
	bool want = c->n_inflight < TCP_PIPELINE_MAX && c->buf.len < sizeof(c->buf.data);
	if (want && !c->reading) {
		uv_read_start((uv_stream_t *)&c->handle, tcp_alloc, tcp_read);
		c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->handle);
		c->reading = false;
	}
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;
	if (nread < 0) {
		tcp_conn_close(c);
		worker_drain(c->w);
		return;
	}
	c->buf.len += (size_t)nread;
	struct worker *w = c->w;
	c->refs++; /* keep it while requests run */
	tcp_process(c);
	worker_drain(w);
	tcp_conn_unref(c);
}

static void tcp_idle(uv_timer_t *t)
{
	struct tcp_conn *c = t->data;
	/* RFC 7766 6.2.3: close idle connections; one still answering is not idle */
	if (c->n_inflight == 0)
		tcp_conn_close(c);
}

static void tcp_accept(uv_stream_t *server, int status)
{
	struct worker *w = server->data;
	if (status < 0)
		return;
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->w = w;
	uv_tcp_init(&w->loop, &c->handle);
	uv_timer_init(&w->loop, &c->idle);
	c->handle.data = c;
	c->idle.data = c;
	c->refs = 1;
	c->open_handles = 2;
	w->n_tcp_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->handle) != 0 ||
	    w->n_tcp_conns > w->cfg->tcp_conn_max) {
		tcp_conn_close(c);
		return;
	}
	uint64_t idle_ms = w->cfg->tcp_idle_timeout_ms;
	uv_timer_start(&c->idle, tcp_idle, idle_ms, idle_ms);
	uv_read_start((uv_stream_t *)&c->handle, tcp_alloc, tcp_read);
	c->reading = true;
}

struct tcp_write {
	uv_write_t req;
	struct request *r;
	uint8_t prefix[2];
};

static void tcp_written(uv_write_t *wr, int status)
{
	struct tcp_write *tw = wr->data;
	request_free(tw->r);
}

static void tcp_request_done(struct tcp_conn *c)
{
	c->n_inflight--;
	if (!c->closing)
		tcp_process(c);
}

void server_tcp_dropped(struct tcp_conn *c)
{
	c->n_inflight--;
	tcp_conn_unref(c);
}

void server_reply(struct request *req)
{
	if (req->tx) {
		req->tx->reply(req);
		return;
	}
	if (req->reply_len == 0) {
		if (req->conn)
			tcp_request_done(req->conn);
		request_free(req);
		return;
	}
	if (!req->conn) {
		udp_send(req->udp, req->reply, req->reply_len, (const struct sockaddr *)&req->peer,
			 req->peer_len);
		request_free(req);
		return;
	}
	struct tcp_conn *c = req->conn;
	tcp_request_done(c);
	if (c->closing) {
		request_free(req);
		return;
	}
	struct tcp_write *tw = arena_alloc(req->arena, sizeof(*tw));
	if (!tw) {
		request_free(req);
		return;
	}
	tw->r = req;
	tw->req.data = tw;
	tw->prefix[0] = (uint8_t)(req->reply_len >> 8);
	tw->prefix[1] = (uint8_t)req->reply_len;
	uv_buf_t bufs[2] = { uv_buf_init((char *)tw->prefix, 2),
			     uv_buf_init((char *)req->reply, req->reply_len) };
	if (uv_write(&tw->req, (uv_stream_t *)&c->handle, bufs, 2, tcp_written) != 0)
		request_free(req);
}

/* ---- listeners ---- */

int server_listen(struct worker *w)
{
	const struct config *cfg = w->cfg;
	w->udp = calloc((size_t)cfg->n_listen, sizeof(struct udp_listener));
	w->tcp = calloc((size_t)cfg->n_listen, sizeof(uv_tcp_t));
	if (!w->udp || !w->tcp)
		return -ENOMEM;
	struct udp_listener *udp = w->udp;
	int opened = 0;
	for (int i = 0; i < cfg->n_listen; i++) {
		const struct listen_addr *la = &cfg->listen[i];
		if (la->kind != LISTEN_DNS)
			continue; /* DoT, DoH: resolver/encrypted.c */
		int ufd = listen_udp((const struct sockaddr *)&la->ss, la->len);
		int tfd = ufd >= 0 ? listen_tcp((const struct sockaddr *)&la->ss, la->len, TCP_BACKLOG)
				   : ufd;
		if (ufd < 0 || tfd < 0) {
			int err = ufd < 0 ? ufd : tfd;
			if (ufd >= 0)
				close(ufd);
			char text[INET6_ADDRSTRLEN + 8];
			addr_to_text((const struct sockaddr *)&la->ss, text, sizeof(text));
			if (la->is_default) {
				if (w->index == 0)
					log_warn("cannot listen on %s: %s (skipped)", text, uv_strerror(err));
				continue;
			}
			log_err("cannot listen on %s: %s", text, uv_strerror(err));
			return err;
		}
		if (udp_listener_start(w, &udp[opened], ufd) < 0) {
			close(ufd);
			close(tfd);
			return -EIO;
		}
		uv_tcp_t *t = &w->tcp[opened];
		uv_tcp_init(&w->loop, t);
		t->data = w;
		uv_tcp_open(t, tfd);
		uv_listen((uv_stream_t *)t, TCP_BACKLOG, tcp_accept);
		opened++;
	}
	w->n_listen = opened;
	int enc = enc_listen(w);
	if (enc < 0)
		return enc;
	if (opened == 0 && enc == 0) {
		log_err("no address to listen on");
		return -EADDRNOTAVAIL;
	}
	return 0;
}

static void close_conn_walk(uv_handle_t *h, void *arg)
{
	/* client connections are the TCP handles whose data is themselves */
	if (h->type == UV_TCP && h->data == (void *)h && !uv_is_closing(h))
		tcp_conn_close(h->data);
}

void server_close(struct worker *w)
{
	for (int i = 0; i < w->n_listen; i++) {
		udp_listener_close(&w->udp[i]);
		uv_close((uv_handle_t *)&w->tcp[i], NULL);
	}
	enc_close(w);
	uv_walk(&w->loop, close_conn_walk, NULL);
}
