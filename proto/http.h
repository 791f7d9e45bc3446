/* proto/http: an HTTP request as DoH sees it, whichever version carried it
 * (proto/http2.c, proto/http1.c): the few headers it needs and the body. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_PATH_MAX 4096   /* longer: 414 (a GET of a 64 KiB message would not fit anyway) */
#define HTTP_BODY_MAX 65535  /* a DNS message (RFC 8484 4.1): longer: 413 */
#define HTTP_FIELD_MAX 128   /* content-type, accept: longer values are cut */

enum http_verb { VERB_OTHER = 0, VERB_GET, VERB_POST, VERB_HEAD };

struct http_header {
	const char *name, *value;
};

struct http_req {
	enum http_verb method;
	char path[HTTP_PATH_MAX + 1];  /* path and query, as sent */
	bool path_too_long;
	char content_type[HTTP_FIELD_MAX + 1];
	char accept[HTTP_FIELD_MAX + 1];
	char forwarded_for[64];        /* X-Forwarded-For's last entry (behind a proxy) */
	uint8_t *body;                 /* malloc'd, up to HTTP_BODY_MAX */
	size_t body_len;
	bool body_too_big;
	bool headers_too_big;
	void *owner_data;              /* the owner's (DoH: the DNS request in flight) */
	/* the transport's */
	int32_t stream_id;
	struct http_req *next;
};

/** Empty @r: every field zero, the text fields empty strings (only their first
 * byte is written: cheaper than zeroing the whole struct). */
void http_req_init(struct http_req *r);
/** Store a header of interest (case-insensitive @name) into @r. */
void http_req_header(struct http_req *r, const char *name, size_t name_len, const char *value,
		     size_t value_len);
/** Append body bytes (beyond HTTP_BODY_MAX: body_too_big, the rest dropped). */
int http_req_body(struct http_req *r, const uint8_t *p, size_t len);
/** Free the body. */
void http_req_clear(struct http_req *r);
/** The method from its text. */
enum http_verb http_method_from(const char *m, size_t len);
