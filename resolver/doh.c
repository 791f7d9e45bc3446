/* resolver/doh: DNS over HTTPS (RFC 8484); see doh.h.
 *
 * A connection speaks HTTP/2 (proto/http2) or HTTP/1.1 (proto/http1): chosen
 * by ALPN, else by the client's first bytes (the HTTP/2 preface means h2c
 * with prior knowledge). Each HTTP request is checked and turned into a DNS
 * query by proto/dohmsg, becomes a request (request_start_tx), and its reply
 * goes back as application/dns-message with cache-control max-age = the
 * smallest TTL in it, or as JSON (proto/json) when that form was asked for.
 * Streams of one connection are resolved in parallel. */
#include "resolver/doh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/log.h"
#include "proto/dohmsg.h"
#include "proto/http1.h"
#include "proto/http2.h"
#include "proto/json.h"
#include "proto/proxy2.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/encrypted.h"
#include "resolver/request.h"
#include "resolver/worker.h"

#define JSON_MAX (256 * 1024) /* the JSON of a 64 KiB message fits */
#define READ_BUF (16 * 1024)
#define DOH_FAST_MAX 4096 /* the fast path gives at most a UDP-sized reply anyway */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

enum proto { PROTO_UNKNOWN, PROTO_H2, PROTO_H1 };

struct doh_conn {
	struct tls_stream s;
	struct enc_node node;
	struct worker *w;
	int refs;            /* the open stream + one per DNS request in flight */
	uint32_t n_inflight;
	bool gone;
	bool behind_proxy;
	enum proto proto;
	struct h2_conn *h2;
	struct h1_conn *h1;
	uint8_t sniff[H2_PREFACE_LEN];
	size_t sniff_len;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct proxy2 *px;   /* behind a proxy: the PROXY v2 header being read, else NULL */
	bool proxied;        /* the header gave the client's address: peer is it */
};

/* One DNS request in flight for one HTTP request. */
struct doh_pending {
	struct doh_conn *c;
	struct http_req *hreq; /* NULL once the stream is gone */
	bool json;
	char endpoint[DOH_ENDPOINT_MAX];
};

static void doh_reply(struct request *req);

static const char *doh_path(const struct request *req)
{
	const struct doh_pending *p = req->tx_ctx;
	return p->endpoint;
}

static const struct transport doh_transport = { "doh", doh_reply, doh_path };

static void conn_unref(struct doh_conn *c)
{
	if (--c->refs == 0)
		free(c);
}

static void conn_flush(struct doh_conn *c)
{
	if (c->gone || c->s.closing)
		return;
	if (c->proto == PROTO_H2) {
		if (h2_flush(c->h2) < 0 || h2_done(c->h2)) {
			tls_stream_close(&c->s);
			return;
		}
	} else if (c->proto == PROTO_H1 && h1_done(c->h1)) {
		tls_stream_close(&c->s);
		return;
	}
	tls_stream_flush(&c->s);
}

static void respond(struct doh_conn *c, struct http_req *hreq, int status,
		    const struct http_header *hdrs, size_t n, const uint8_t *body, size_t len)
{
	enc_count_http_status(c->w, status);
	if (c->proto == PROTO_H2)
		h2_respond(c->h2, hreq, status, hdrs, n, body, len);
	else
		h1_respond(c->h1, hreq, status, hdrs, n, body, len);
}

static void respond_error(struct doh_conn *c, struct http_req *hreq, int status, const char *why)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", why ? why : "error");
	struct http_header h[] = { { "content-type", "text/plain; charset=utf-8" },
				   { "cache-control", "no-store" } };
	respond(c, hreq, status, h, 2, (const uint8_t *)body, n > 0 ? (size_t)n : 0);
}

/* The client for ACLs: the peer, or behind a proxy the address it forwarded:
 * in a PROXY v2 header, else in X-Forwarded-For. With a PROXY header the
 * proxy passes the client's bytes through, so X-Forwarded-For is the client's
 * own word, never trusted. */
static void client_addr(const struct doh_conn *c, const struct http_req *hreq,
			struct sockaddr_storage *ss, socklen_t *len)
{
	memcpy(ss, &c->peer, c->peer_len);
	*len = c->peer_len;
	if (!c->behind_proxy || c->proxied || !hreq->forwarded_for[0])
		return;
	struct sockaddr_storage fwd;
	socklen_t flen;
	if (config_parse_addr(hreq->forwarded_for, 0, &fwd, &flen) == 0) {
		memcpy(ss, &fwd, flen);
		*len = flen;
	}
}

static uint32_t min_ttl(const uint8_t *wire, size_t len);

/* "max-age=TTL" into @out (24 bytes), without printf's machinery. */
static void max_age(char *out, uint32_t ttl)
{
	char digits[10];
	int n = 0;
	do {
		digits[n++] = (char)('0' + ttl % 10);
		ttl /= 10;
	} while (ttl > 0);
	memcpy(out, "max-age=", 8);
	for (int i = 0; i < n; i++)
		out[8 + i] = digits[n - 1 - i];
	out[8 + n] = '\0';
}

/* The TTL of a fast path reply (resolver/fastpath): the question, then the
 * records of one RRset, all with one TTL, and nothing in authority. Anything
 * else is read the long way (min_ttl). */
static uint32_t fast_reply_ttl(const uint8_t *r, size_t len)
{
	size_t pos = DNS_HDR_LEN;
	while (pos < len && r[pos] != 0 && r[pos] <= LABEL_MAX)
		pos += 1u + r[pos];
	pos += 1 + 4 + 6; /* root label, qtype, qclass; the answer's pointer, type, class */
	if (pos + 4 > len || (r[6] | r[7]) == 0 || r[pos - 6] != 0xc0 || (r[8] | r[9]))
		return min_ttl(r, len);
	return (uint32_t)r[pos] << 24 | (uint32_t)r[pos + 1] << 16 | (uint32_t)r[pos + 2] << 8 |
	       r[pos + 3];
}

static void on_http_request(void *owner, struct http_req *hreq)
{
	struct doh_conn *c = owner;
	struct worker *w = c->w;
	static __thread struct doh_query q;
	int status = doh_parse(hreq, w->cfg->doh_path, &q);
	if (status != 200) {
		respond_error(c, hreq, status, q.reason);
		return;
	}
	struct sockaddr_storage peer;
	socklen_t plen;
	client_addr(c, hreq, &peer, &plen);
	if (!q.json) {
		/* a cache hit: answered here, no request */
		uint8_t out[DOH_FAST_MAX];
		size_t len = enc_fastpath(w, q.wire, q.len, (struct sockaddr *)&peer, out,
					  sizeof(out));
		if (len > 0) {
			w->stats.queries_tcp++;
			w->enc->doh_queries++;
			tls_stream_touch(&c->s);
			char cc[24];
			max_age(cc, fast_reply_ttl(out, len));
			struct http_header h[] = { { "content-type", DOH_MEDIA_TYPE },
						   { "cache-control", cc } };
			respond(c, hreq, 200, h, 2, out, len);
			conn_flush(c);
			if (!c->gone && !c->s.closing)
				tls_stream_seal(&c->s); /* see doh_reply() */
			return;
		}
	}
	struct doh_pending *p = calloc(1, sizeof(*p));
	if (!p) {
		respond_error(c, hreq, 503, "out of memory");
		return;
	}
	p->c = c;
	p->hreq = hreq;
	p->json = q.json;
	memcpy(p->endpoint, q.endpoint, sizeof(p->endpoint));
	hreq->owner_data = p;
	c->refs++;
	c->n_inflight++;
	w->stats.queries_tcp++;
	w->enc->doh_queries++;
	tls_stream_touch(&c->s);
	if (request_start_tx(w, q.wire, q.len, (struct sockaddr *)&peer, plen, &doh_transport,
			     p) < 0) {
		hreq->owner_data = NULL;
		free(p);
		c->refs--;
		c->n_inflight--;
		respond_error(c, hreq, 503, "out of memory");
	}
}

static void on_stream_closed(void *owner, struct http_req *hreq)
{
	struct doh_pending *p = hreq->owner_data;
	if (p)
		p->hreq = NULL; /* the DNS request goes on; its reply is dropped */
}

static int on_send(void *owner, const uint8_t *data, size_t len)
{
	struct doh_conn *c = owner;
	return tls_stream_write(&c->s, data, len);
}

static const struct h2_ops h2_ops = { on_http_request, on_stream_closed, on_send };
static const struct h1_ops h1_ops = { on_http_request, on_send };

/* cache-control max-age: the smallest TTL in answer and authority (RFC 8484 5.1) */
static uint32_t min_ttl(const uint8_t *wire, size_t len)
{
	struct msg m;
	if (msg_parse(&m, wire, len, NULL) < 0)
		return 0;
	uint32_t min = UINT32_MAX;
	for (int s = SEC_ANSWER; s <= SEC_AUTHORITY; s++) {
		struct rr_iter it;
		struct rr_view rr;
		rr_iter_init(&m, &it, (enum section)s);
		while (rr_next(&m, &it, &rr))
			if (rr.ttl < min)
				min = rr.ttl;
	}
	return min == UINT32_MAX ? 0 : min;
}

static void doh_reply(struct request *req)
{
	struct doh_pending *p = req->tx_ctx;
	struct doh_conn *c = p->c;
	c->n_inflight--;
	struct http_req *hreq = p->hreq;
	if (hreq && !c->gone && !c->s.closing) {
		hreq->owner_data = NULL;
		if (req->reply_len == 0) {
			respond_error(c, hreq, 400, "not a DNS query");
		} else if (p->json) {
			char *json = malloc(JSON_MAX);
			long n = json ? dns_json_write(req->reply, req->reply_len, json, JSON_MAX) : -1;
			if (n < 0) {
				respond_error(c, hreq, 500, "cannot write JSON");
			} else {
				char cc[48];
				snprintf(cc, sizeof(cc), "max-age=%u", min_ttl(req->reply, req->reply_len));
				struct http_header h[] = { { "content-type", DOH_JSON_TYPE },
							   { "cache-control", cc },
							   { "access-control-allow-origin", "*" } };
				respond(c, hreq, 200, h, 3, (const uint8_t *)json, (size_t)n);
			}
			free(json);
		} else {
			size_t cap = req->reply_len + 4u + PADDING_BLOCK;
			uint8_t *out = arena_alloc(req->arena, cap);
			size_t len = out ? enc_reply_finish(req, 0, out, cap) : 0;
			if (len == 0) {
				out = req->reply;
				len = req->reply_len;
			}
			char cc[48];
			snprintf(cc, sizeof(cc), "max-age=%u", min_ttl(out, len));
			struct http_header h[] = { { "content-type", DOH_MEDIA_TYPE },
						   { "cache-control", cc } };
			respond(c, hreq, 200, h, 2, out, len);
		}
		conn_flush(c);
		/* Each response in TLS records of its own (sent together when the
		 * callback ends): dnsperf 2.10's DoH client keeps one response
		 * buffer per connection and mixes up responses that share a record. */
		if (!c->gone && !c->s.closing)
			tls_stream_seal(&c->s);
		if (c->proto == PROTO_H1 && !c->gone && !c->s.closing && !h1_blocked(c->h1))
			tls_stream_pause(&c->s, false);
	}
	request_free(req);
	free(p);
	conn_unref(c);
}

/* ---- the connection ---- */

static int start_proto(struct doh_conn *c, enum proto proto)
{
	c->proto = proto;
	if (proto == PROTO_H2)
		c->h2 = h2_new(&h2_ops, c, c->w->cfg->http_streams_max);
	else
		c->h1 = h1_new(&h1_ops, c);
	return c->h2 || c->h1 ? 0 : -ENOMEM;
}

static int feed_http(struct doh_conn *c, const uint8_t *p, size_t len);

/* Behind a proxy, first the PROXY v2 header: required with
 * http-proxy-protocol yes, else taken when the bytes begin with its signature. */
static int feed(struct doh_conn *c, const uint8_t *p, size_t len)
{
	if (!c->px)
		return feed_http(c, p, len);
	size_t used = proxy2_feed(c->px, p, len);
	p += used;
	len -= used;
	struct proxy2 *px = c->px;
	int rc = 0;
	switch (px->state) {
	case PROXY2_MORE:
		return 0;
	case PROXY2_BAD:
		log_debug("doh: a malformed PROXY v2 header: connection closed");
		return -EPROTO;
	case PROXY2_NONE:
		if (c->w->cfg->http_proxy_protocol) {
			log_debug("doh: no PROXY v2 header from the proxy: connection closed");
			return -EPROTO;
		}
		c->px = NULL;
		rc = feed_http(c, px->buf, px->have);
		break;
	case PROXY2_DONE:
		if (px->has_src) {
			memcpy(&c->peer, &px->src, px->src_len);
			c->peer_len = px->src_len;
			c->proxied = true;
		}
		c->px = NULL;
		break;
	}
	free(px);
	if (rc < 0 || len == 0)
		return rc;
	return feed_http(c, p, len);
}

static int feed_http(struct doh_conn *c, const uint8_t *p, size_t len)
{
	if (c->proto == PROTO_UNKNOWN) {
		/* no ALPN: the HTTP/2 preface, or HTTP/1.1 */
		size_t take = H2_PREFACE_LEN - c->sniff_len;
		if (take > len)
			take = len;
		memcpy(c->sniff + c->sniff_len, p, take);
		c->sniff_len += take;
		p += take;
		len -= take;
		bool h2 = memcmp(c->sniff, h2_preface, c->sniff_len) == 0;
		if (h2 && c->sniff_len < H2_PREFACE_LEN)
			return 0;
		if (start_proto(c, h2 ? PROTO_H2 : PROTO_H1) < 0)
			return -ENOMEM;
		int rc = c->proto == PROTO_H2 ? h2_recv(c->h2, c->sniff, c->sniff_len)
					      : h1_recv(c->h1, c->sniff, c->sniff_len);
		if (rc < 0 || len == 0)
			return rc;
	}
	if (c->proto == PROTO_H2)
		return h2_recv(c->h2, p, len);
	return h1_recv(c->h1, p, len);
}

static void on_open(struct tls_stream *s)
{
	struct doh_conn *c = s->data;
	if (s->ssl) {
		c->w->enc->handshakes++;
		if (tls_stream_resumed(s))
			c->w->enc->resumed++;
	}
	int rc = 0;
	if (s->alpn && strcmp(s->alpn, "h2") == 0)
		rc = start_proto(c, PROTO_H2);
	else if (s->alpn && strcmp(s->alpn, "http/1.1") == 0)
		rc = start_proto(c, PROTO_H1);
	if (rc < 0)
		tls_stream_close(s);
	else if (c->proto == PROTO_H2)
		conn_flush(c); /* our SETTINGS */
}

static void on_readable(struct tls_stream *s)
{
	struct doh_conn *c = s->data;
	struct worker *w = c->w;
	uint8_t buf[READ_BUF];
	c->refs++;
	while (!c->s.closing) {
		if (c->proto == PROTO_H1 && h1_blocked(c->h1)) {
			tls_stream_pause(&c->s, true); /* answers first, then more requests */
			break;
		}
		ssize_t n = tls_stream_read(&c->s, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (feed(c, buf, (size_t)n) < 0) {
			conn_flush(c);
			tls_stream_close(&c->s);
			break;
		}
	}
	conn_flush(c);
	worker_drain(w);
	conn_unref(c);
}

static void on_idle(struct tls_stream *s)
{
	struct doh_conn *c = s->data;
	if (c->n_inflight == 0) {
		if (c->proto == PROTO_H2) {
			h2_goaway(c->h2);
			conn_flush(c);
		}
		tls_stream_close(s);
	}
}

static void on_closed(struct tls_stream *s)
{
	struct doh_conn *c = s->data;
	c->gone = true;
	free(c->px);
	c->px = NULL;
	h2_free(c->h2); /* every open stream: on_stream_closed() */
	c->h2 = NULL;
	if (c->h1) {
		/* requests in flight keep a dangling hreq, never read: c->gone */
		h1_free(c->h1);
		c->h1 = NULL;
	}
	enc_conn_gone(c->w, &c->node);
	conn_unref(c);
}

static const struct tls_stream_ops doh_ops = { on_open, on_readable, on_idle, on_closed };

/* Behind a proxy: only the configured proxies (default loopback) may connect. */
static bool proxy_allowed(const struct config *cfg, const struct sockaddr *sa)
{
	if (cfg->n_http_proxies == 0)
		return addr_is_loopback(sa);
	uint8_t a[16];
	int family = sa->sa_family;
	if (family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		if (memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	}
	for (int i = 0; i < cfg->n_http_proxies; i++) {
		const struct prefix *p = &cfg->http_proxies[i];
		if (p->family != family)
			continue;
		unsigned whole = p->bits / 8, rest = p->bits % 8;
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if (memcmp(p->addr, a, whole) == 0 &&
		    (rest == 0 || (p->addr[whole] & mask) == (a[whole] & mask)))
			return true;
	}
	return false;
}

void doh_accept(struct worker *w, uv_stream_t *server, SSL_CTX *ctx, bool behind_proxy)
{
	struct doh_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->w = w;
	c->refs = 1;
	c->behind_proxy = behind_proxy;
	c->s.ops = &doh_ops;
	c->s.data = c;
	bool admitted = enc_conn_admit(w, &c->node, &c->s);
	if (tls_stream_accept(&c->s, &w->loop, server, ctx, w->cfg->tcp_idle_timeout_ms) < 0)
		return;
	if (!admitted || tls_stream_peer(&c->s, &c->peer, &c->peer_len) != 0 ||
	    (behind_proxy && !proxy_allowed(w->cfg, (const struct sockaddr *)&c->peer))) {
		tls_stream_close(&c->s);
		return;
	}
	if (behind_proxy) {
		c->px = malloc(sizeof(*c->px));
		if (!c->px) {
			tls_stream_close(&c->s);
			return;
		}
		proxy2_init(c->px);
	}
}
