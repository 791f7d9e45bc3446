/* proto/http2: the server side of HTTP/2 (RFC 9113) with nghttp2, sans I/O:
 * bytes from the client go in with h2_recv(), bytes for the client come out
 * through ops->send() when h2_flush() runs. Each request (headers and body
 * complete) is handed to the owner as a struct http_req; the owner answers
 * it with h2_respond(), at once or later and in any order (streams are
 * independent), or not at all if the stream is closed first.
 *
 * Limits, against floods and memory abuse (CVE-2023-44487 and friends):
 * concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS, enforced by nghttp2),
 * header list size, request body size, stream resets per second (counted
 * here: above H2_RESETS_PER_S the connection gets GOAWAY ENHANCE_YOUR_CALM
 * and closes), and nghttp2's own: settings per frame, queued control frames
 * (PING/SETTINGS acks: ERR_FLOODED), CONTINUATION frames per header block, and
 * its stream reset rate limit (backported to Debian 12's 1.52). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define H2_HEADER_LIST_MAX 8192 /* bytes of one request's headers (RFC 7541 4.1 sizing) */
#define H2_RESETS_PER_S 100     /* client RST_STREAMs tolerated per second */

struct h2_conn;

struct h2_ops {
	/** A whole request. @req stays valid until h2_respond() or stream_closed(). */
	void (*request)(void *owner, struct http_req *req);
	/** The stream of @req is gone (reset or done): forget it. */
	void (*stream_closed)(void *owner, struct http_req *req);
	/** Bytes for the peer. Returns 0 or a negative error. */
	int (*send)(void *owner, const uint8_t *p, size_t len);
};

/** A server session; the connection preface and our SETTINGS are queued. */
struct h2_conn *h2_new(const struct h2_ops *ops, void *owner, uint32_t max_streams);
void h2_free(struct h2_conn *h);
/** Feed bytes from the client. Returns 0, or a negative error: send what is
 * queued (h2_flush()) and close the connection. */
int h2_recv(struct h2_conn *h, const uint8_t *p, size_t len);
/** Send everything queued through ops->send(). Returns 0 or negative (close). */
int h2_flush(struct h2_conn *h);
/** Answer @req: status, headers, body (copied). */
int h2_respond(struct h2_conn *h, struct http_req *req, int status, const struct http_header *hdrs,
	       size_t n_hdrs, const uint8_t *body, size_t body_len);
/** True when the session is over (GOAWAY both ways, or a fatal error). */
bool h2_done(const struct h2_conn *h);
/** Send GOAWAY (at shutdown); streams in progress may finish. */
void h2_goaway(struct h2_conn *h);
/** Streams open now (for tests and statistics). */
size_t h2_streams(const struct h2_conn *h);
