/* resolver/encrypted: DoT/DoH listeners, TLS contexts, reload; see encrypted.h. */
#include "resolver/encrypted.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "base/clock.h"
#include "base/log.h"
#include "proto/listen.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/doh.h"
#include "resolver/dot.h"
#include "resolver/fastpath.h"
#include "resolver/request.h"
#include "resolver/worker.h"

#define ENC_BACKLOG 256

/* kind first: resolver/server.c closes TCP handles whose data is the handle */
struct enc_listener {
	enum listen_kind kind;
	struct worker *w;
	uv_tcp_t tcp;
};

/* The contexts every worker starts with, made once by the first worker. */
static uv_mutex_t ctx_lock;
static uv_once_t ctx_once = UV_ONCE_INIT;
static bool ctx_loaded;
static SSL_CTX *shared_dot, *shared_doh;

static void ctx_lock_init(void)
{
	uv_mutex_init(&ctx_lock);
}

static const uint8_t alpn_dot[] = "\x03" "dot";
static const uint8_t alpn_doh[] = "\x02" "h2" "\x08" "http/1.1";

static void addr_text(const struct listen_addr *la, char *out, size_t cap)
{
	static const char *const scheme[] = { "", "tls://", "https://", "http://" };
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const struct sockaddr *)&la->ss;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s%s:%u", scheme[la->kind], host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "%s[%s]:%u", scheme[la->kind], host, ntohs(in6->sin6_port));
	}
}

/* Both contexts from the configured files; false with @why on failure. */
static bool load_contexts(const struct config *cfg, SSL_CTX **dot, SSL_CTX **doh, char *why,
			  size_t cap)
{
	*dot = *doh = NULL;
	if (!cfg->tls_cert_path || !cfg->tls_key_path) {
		snprintf(why, cap, "no certificate: set tls-cert and tls-key");
		return false;
	}
	/* DoT: ALPN "dot" when the client asks for any (RFC 7858 has none of its own) */
	*dot = tls_ctx_new(cfg->tls_cert_path, cfg->tls_key_path, alpn_dot, sizeof(alpn_dot) - 1,
			   false, why, cap);
	if (*dot)
		*doh = tls_ctx_new(cfg->tls_cert_path, cfg->tls_key_path, alpn_doh,
				   sizeof(alpn_doh) - 1, false, why, cap);
	if (!*doh) {
		tls_ctx_free(*dot);
		*dot = NULL;
		return false;
	}
	return true;
}

/* ---- accepting ---- */

static void on_accept(uv_stream_t *server, int status)
{
	struct enc_listener *l = server->data;
	if (status < 0)
		return;
	struct encrypted *e = l->w->enc;
	switch (l->kind) {
	case LISTEN_TLS:
		dot_accept(l->w, server, e->dot_ctx);
		break;
	case LISTEN_HTTPS:
		doh_accept(l->w, server, e->doh_ctx, false);
		break;
	case LISTEN_HTTP:
		doh_accept(l->w, server, NULL, true);
		break;
	default:
		break;
	}
}

static void enc_maybe_free(struct encrypted *e);

void enc_count_http_status(struct worker *w, int status)
{
	if (w->enc && status >= ENC_HTTP_ERR_MIN && status < ENC_HTTP_ERR_MIN + ENC_HTTP_ERR_SPAN)
		w->enc->http_errors[status - ENC_HTTP_ERR_MIN]++;
}

/* The worker's counters, once, as it stops. */
static void log_stats(const struct worker *w, const struct encrypted *e)
{
	char errs[256] = "none";
	size_t off = 0;
	for (int i = 0; i < ENC_HTTP_ERR_SPAN; i++) {
		if (!e->http_errors[i])
			continue;
		int n = snprintf(errs + off, sizeof(errs) - off, "%s%d:%llu", off ? " " : "",
				 ENC_HTTP_ERR_MIN + i, (unsigned long long)e->http_errors[i]);
		if (n < 0 || (size_t)n >= sizeof(errs) - off)
			break;
		off += (size_t)n;
	}
	log_info("worker %d: TLS handshakes %llu (resumed %llu), DoT queries %llu, "
		 "DoH queries %llu, HTTP errors %s",
		 w->index, (unsigned long long)e->handshakes, (unsigned long long)e->resumed,
		 (unsigned long long)e->dot_queries, (unsigned long long)e->doh_queries, errs);
}

bool enc_conn_admit(struct worker *w, struct enc_node *node, struct tls_stream *s)
{
	struct encrypted *e = w->enc;
	node->s = s;
	node->next = e->conns.next;
	node->prev = &e->conns;
	e->conns.next->prev = node;
	e->conns.next = node;
	e->n_conns++;
	return e->n_conns <= w->cfg->tcp_conn_max;
}

void enc_conn_gone(struct worker *w, struct enc_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->next = node->prev = node;
	w->enc->n_conns--;
	enc_maybe_free(w->enc);
}

/* ---- reload ---- */

static void on_reload(uv_async_t *a)
{
	struct encrypted *e = a->data;
	uv_mutex_lock(&e->lock);
	SSL_CTX *dot = e->pending_dot, *doh = e->pending_doh;
	bool pending = e->pending;
	e->pending_dot = e->pending_doh = NULL;
	e->pending = false;
	uv_mutex_unlock(&e->lock);
	if (!pending)
		return;
	/* connections keep theirs: SSL_new() took a reference */
	tls_ctx_free(e->dot_ctx);
	tls_ctx_free(e->doh_ctx);
	e->dot_ctx = dot;
	e->doh_ctx = doh;
}

int enc_reload(struct worker *workers, int n)
{
	if (n <= 0 || !workers[0].enc)
		return 0;
	const struct config *cfg = workers[0].cfg;
	bool any = false;
	for (int i = 0; i < cfg->n_listen; i++)
		any |= cfg->listen[i].kind == LISTEN_TLS || cfg->listen[i].kind == LISTEN_HTTPS;
	if (!any)
		return 0;
	SSL_CTX *dot, *doh;
	char why[512];
	if (!load_contexts(cfg, &dot, &doh, why, sizeof(why))) {
		log_err("reload: the certificate stays as it was: %s", why);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct encrypted *e = workers[i].enc;
		if (!e)
			continue;
		SSL_CTX_up_ref(dot);
		SSL_CTX_up_ref(doh);
		uv_mutex_lock(&e->lock);
		if (e->pending) { /* two reloads before the worker looked: the newer wins */
			tls_ctx_free(e->pending_dot);
			tls_ctx_free(e->pending_doh);
		}
		e->pending_dot = dot;
		e->pending_doh = doh;
		e->pending = true;
		uv_mutex_unlock(&e->lock);
		uv_async_send(&e->reload_async);
	}
	tls_ctx_free(dot);
	tls_ctx_free(doh);
	log_info("reload: new certificate loaded");
	return 0;
}

/* ---- listeners ---- */

int enc_listen(struct worker *w)
{
	const struct config *cfg = w->cfg;
	int wanted = 0;
	bool want_tls = false;
	for (int i = 0; i < cfg->n_listen; i++) {
		if (cfg->listen[i].kind != LISTEN_DNS)
			wanted++;
		want_tls |= cfg->listen[i].kind == LISTEN_TLS || cfg->listen[i].kind == LISTEN_HTTPS;
	}
	if (wanted == 0)
		return 0;
	struct encrypted *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ls = calloc((size_t)wanted, sizeof(*e->ls));
	if (!e->ls) {
		free(e);
		return -ENOMEM;
	}
	e->w = w;
	e->conns.next = e->conns.prev = &e->conns;
	uv_mutex_init(&e->lock);
	uv_async_init(&w->loop, &e->reload_async, on_reload);
	e->reload_async.data = e;
	w->enc = e;

	char why[512] = "";
	if (want_tls) {
		uv_once(&ctx_once, ctx_lock_init);
		uv_mutex_lock(&ctx_lock);
		if (!ctx_loaded) {
			ctx_loaded = true;
			if (!load_contexts(cfg, &shared_dot, &shared_doh, why, sizeof(why)))
				log_err("DoT and DoH over TLS are off: %s", why);
		}
		if (shared_dot) {
			SSL_CTX_up_ref(shared_dot);
			SSL_CTX_up_ref(shared_doh);
			e->dot_ctx = shared_dot;
			e->doh_ctx = shared_doh;
		}
		uv_mutex_unlock(&ctx_lock);
	}

	for (int i = 0; i < cfg->n_listen; i++) {
		const struct listen_addr *la = &cfg->listen[i];
		if (la->kind == LISTEN_DNS)
			continue;
		char text[INET6_ADDRSTRLEN + 24];
		addr_text(la, text, sizeof(text));
		if ((la->kind == LISTEN_TLS || la->kind == LISTEN_HTTPS) && !e->dot_ctx) {
			if (w->index == 0)
				log_warn("not listening on %s: no usable certificate (see above)", text);
			continue;
		}
		int fd = listen_tcp((const struct sockaddr *)&la->ss, la->len, ENC_BACKLOG);
		if (fd < 0) {
			log_err("cannot listen on %s: %s", text, uv_strerror(fd));
			return fd;
		}
		struct enc_listener *l = &e->ls[e->n_ls++];
		l->kind = la->kind;
		l->w = w;
		uv_tcp_init(&w->loop, &l->tcp);
		l->tcp.data = l;
		uv_tcp_open(&l->tcp, fd);
		int rc = uv_listen((uv_stream_t *)&l->tcp, ENC_BACKLOG, on_accept);
		if (rc < 0) {
			log_err("cannot listen on %s: %s", text, uv_strerror(rc));
			return rc;
		}
		if (w->index == 0)
			log_info("listening on %s", text);
	}
	return e->n_ls;
}

/* Freed once the listeners, the async handle and every connection are closed. */
static void enc_maybe_free(struct encrypted *e)
{
	if (!e->closing || e->open_handles > 0 || e->n_conns > 0)
		return;
	e->w->enc = NULL;
	uv_mutex_lock(&e->lock);
	tls_ctx_free(e->pending_dot);
	tls_ctx_free(e->pending_doh);
	uv_mutex_unlock(&e->lock);
	uv_mutex_destroy(&e->lock);
	tls_ctx_free(e->dot_ctx);
	tls_ctx_free(e->doh_ctx);
	free(e->ls);
	free(e);
}

static void listener_closed(uv_handle_t *h)
{
	struct enc_listener *l = h->data;
	struct encrypted *e = l->w->enc;
	e->open_handles--;
	enc_maybe_free(e);
}

static void async_closed(uv_handle_t *h)
{
	struct encrypted *e = h->data;
	e->open_handles--;
	enc_maybe_free(e);
}

void enc_close(struct worker *w)
{
	struct encrypted *e = w->enc;
	if (!e || e->closing)
		return;
	e->closing = true;
	if (e->n_ls > 0)
		log_stats(w, e);
	e->open_handles = e->n_ls + 1;
	for (int i = 0; i < e->n_ls; i++)
		uv_close((uv_handle_t *)&e->ls[i].tcp, listener_closed);
	uv_close((uv_handle_t *)&e->reload_async, async_closed);
	for (struct enc_node *n = e->conns.next, *next; n != &e->conns; n = next) {
		next = n->next;
		tls_stream_close(n->s);
	}
}

/* ---- EDNS options of stream replies ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t enc_reply_finish(const struct request *req, uint32_t keepalive_ms, uint8_t *out, size_t cap)
{
	size_t len = req->reply_len;
	if (len > cap)
		return 0;
	memcpy(out, req->reply, len);
	if (!req->q_parsed || !req->q.has_opt || len < DNS_HDR_LEN)
		return len;
	bool pad = false, keepalive = false;
	uint16_t pos = 0, code, olen;
	const uint8_t *data;
	while (edns_next_option(&req->q, &pos, &code, &data, &olen)) {
		pad |= code == EDNS_OPT_PADDING;
		keepalive |= code == EDNS_OPT_KEEPALIVE;
	}
	keepalive &= keepalive_ms > 0;
	if (!pad && !keepalive)
		return len;
	/* the answer stage writes the OPT last: find it and grow its RDATA */
	struct msg m;
	if (msg_parse(&m, out, len, NULL) < 0 || !m.has_opt ||
	    (size_t)m.opt_rdata_at + m.opt_rdlen != len)
		return len;
	size_t rdlen = m.opt_rdlen;
	if (keepalive && len + 6 <= cap && len + 6 <= UINT16_MAX) {
		/* RFC 7828 3.3.2: the idle timeout, in units of 100 ms */
		uint32_t units = keepalive_ms / 100;
		put16(out + len, EDNS_OPT_KEEPALIVE);
		put16(out + len + 2, 2);
		put16(out + len + 4, units > 0xffff ? 0xffff : (uint16_t)units);
		len += 6;
		rdlen += 6;
	}
	if (pad && len + 4 <= cap) {
		size_t padded = (len + 4 + PADDING_BLOCK - 1) / PADDING_BLOCK * PADDING_BLOCK;
		if (padded <= cap && padded <= UINT16_MAX) {
			size_t n = padded - len - 4;
			put16(out + len, EDNS_OPT_PADDING);
			put16(out + len + 2, (uint16_t)n);
			memset(out + len + 4, 0, n); /* RFC 7830 3: zeros */
			len = padded;
			rdlen += 4 + n;
		}
	}
	if (rdlen > UINT16_MAX)
		return req->reply_len <= cap ? req->reply_len : 0;
	put16(out + m.opt_rdata_at - 2, (uint16_t)rdlen);
	return len;
}

/* ---- the fast path ---- */

/* True when @q has no OPT record, or one with empty RDATA: then the full path
 * would add nothing a stream transport adds (keepalive, padding). Anything
 * unusual (compression, odd counts) says false: the full path decides. */
static bool no_edns_options(const uint8_t *q, size_t len)
{
	if (len < DNS_HDR_LEN + 5 || q[10] != 0 || q[11] > 1)
		return false;
	if (q[11] == 0)
		return true;
	size_t pos = DNS_HDR_LEN;
	while (pos < len && q[pos] != 0) {
		if (q[pos] > LABEL_MAX)
			return false;
		pos += 1u + q[pos];
	}
	pos += 1 + 4;            /* the root label, qtype, qclass */
	if (pos + 11 > len)
		return false;
	return q[pos + 9] == 0 && q[pos + 10] == 0; /* the OPT's RDLENGTH */
}

size_t enc_fastpath(struct worker *w, const uint8_t *q, size_t len, const struct sockaddr *peer,
		    uint8_t *out, size_t cap)
{
	const struct config *cfg = w->cfg;
	if (cfg->policy_path || cfg->n_tenants || !no_edns_options(q, len))
		return 0;
	/* a batch of one: DoT and DoH answer as each query is read */
	struct fp_query fq;
	fastpath_batch_begin(w);
	fastpath_parse(w, q, len, &fq);
	size_t n = fastpath_answer(w, q, len, &fq, peer, clock_wall_s(), out, cap);
	fastpath_batch_end(w);
	return n;
}
