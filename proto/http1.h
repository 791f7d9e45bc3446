/* proto/http1: the server side of HTTP/1.1 (RFC 9112) with Debian's
 * libhttp-parser, sans I/O like proto/http2: bytes in with h1_recv(), bytes
 * out through ops->send(). Pipelined requests are handed over as they are
 * parsed and may be answered in any order; responses leave in request order
 * (HTTP/1.1 has no other way). With H1_PIPELINE_MAX requests unanswered,
 * parsing stops (h1_recv() keeps the rest) until answers go out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define H1_PIPELINE_MAX 16
#define H1_HEADERS_MAX 8192 /* bytes of one request's header section: more is 431 */

struct h1_conn;

struct h1_ops {
	/** A whole request; answer it with h1_respond(). */
	void (*request)(void *owner, struct http_req *req);
	/** Bytes for the peer. Returns 0 or a negative error. */
	int (*send)(void *owner, const uint8_t *p, size_t len);
};

struct h1_conn *h1_new(const struct h1_ops *ops, void *owner);
/** Free the connection and every request in it (the owner must forget them). */
void h1_free(struct h1_conn *h);
/** Feed bytes. Returns 0, or a negative error after queueing a 400 response:
 * the owner closes the connection once it is sent. */
int h1_recv(struct h1_conn *h, const uint8_t *p, size_t len);
/** Answer @req; responses leave in order. */
int h1_respond(struct h1_conn *h, struct http_req *req, int status,
	       const struct http_header *hdrs, size_t n_hdrs, const uint8_t *body, size_t len);
/** True when parsing stopped for back-pressure (stop reading). */
bool h1_blocked(const struct h1_conn *h);
/** True when the connection should close (Connection: close, HTTP/1.0, an error)
 * and every response has been sent. */
bool h1_done(const struct h1_conn *h);
/** Requests not yet answered. */
size_t h1_pending(const struct h1_conn *h);
