/* resolver/encrypted: the stream listeners beyond plain DNS, per worker:
 * tls:// (DoT, resolver/dot.c), https:// and http:// (DoH, resolver/doh.c).
 * Opens them next to the UDP/TCP ones (SO_REUSEPORT, one socket per worker),
 * accepts within the per-worker connection cap, holds the TLS contexts and
 * swaps them on reload: a new connection gets the new certificate, one in
 * progress keeps the context it started with (OpenSSL counts references).
 * Also what DoT and DoH share: the EDNS options a stream reply gains
 * (padding, RFC 7830/8467; edns-tcp-keepalive, RFC 7828). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/tls.h"

struct request;
struct worker;
struct config;

#define PADDING_BLOCK 468 /* RFC 8467 4.1: responses padded to a multiple of this */
#define ENC_HTTP_ERR_MIN 400
#define ENC_HTTP_ERR_SPAN 200 /* statuses 400..599 are counted */

/* Every open connection is on its worker's list, for closing at shutdown. */
struct enc_node {
	struct enc_node *prev, *next;
	struct tls_stream *s;
};

struct encrypted {
	struct worker *w;
	SSL_CTX *dot_ctx, *doh_ctx; /* NULL: no certificate (those listeners are off) */
	struct enc_listener *ls;
	int n_ls;
	uint32_t n_conns;
	struct enc_node conns; /* list head */
	uv_async_t reload_async;
	uv_mutex_t lock;       /* guards the pending contexts, set by the main thread */
	SSL_CTX *pending_dot, *pending_doh;
	bool pending;
	bool closing;          /* enc_close(): freed when the last handle is closed */
	int open_handles;
	/* statistics, logged when the worker stops (counts only: never a name) */
	uint64_t handshakes, resumed; /* TLS handshakes done, and of them resumed */
	uint64_t dot_queries, doh_queries;
	uint64_t http_errors[ENC_HTTP_ERR_SPAN]; /* by status, 400..599 */
};

/** Open this worker's DoT/DoH listeners (cfg->listen entries of those kinds).
 * Returns how many were opened, or a negative error (already logged). */
int enc_listen(struct worker *w);
/** Close the listeners and every connection (at shutdown); w->enc is freed
 * (and set to NULL) once the last of them is closed. */
void enc_close(struct worker *w);
/** Load the certificate and key again and hand the new contexts to every
 * worker (thread-safe; from the main thread on SIGHUP). Returns 0 or -1
 * (logged: the old certificate stays). */
int enc_reload(struct worker *workers, int n);

/** Count an HTTP response of @status (errors only: 4xx and 5xx). */
void enc_count_http_status(struct worker *w, int status);

/** A connection opened (true) or may not be (false: over the cap). */
bool enc_conn_admit(struct worker *w, struct enc_node *node, struct tls_stream *s);
/** The connection is gone. */
void enc_conn_gone(struct worker *w, struct enc_node *node);

/** Copy the reply of @req into @out (@cap bytes) with the EDNS options a
 * stream transport adds when the query asked for them: edns-tcp-keepalive
 * (@keepalive_ms, 0: none) and block padding. Returns the length, or 0 when
 * the reply does not fit (then send req->reply as it is). */
size_t enc_reply_finish(const struct request *req, uint32_t keepalive_ms, uint8_t *out, size_t cap);

/** The cache-hit fast path (resolver/fastpath) for query @q over DoT or DoH
 * from @peer: the reply in @out (@cap bytes), or 0 for the full path. Taken
 * only without a policy (it may tell transports and DoH paths apart) and for
 * queries without EDNS options (the full path adds keepalive and padding). */
size_t enc_fastpath(struct worker *w, const uint8_t *q, size_t len, const struct sockaddr *peer,
		    uint8_t *out, size_t cap);
