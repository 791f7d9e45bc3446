/* proto/http: the parts of a request DoH needs; see http.h. */
#include "proto/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void copy_field(char *dst, size_t cap, const char *v, size_t len)
{
	if (len > cap - 1)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

void http_req_header(struct http_req *r, const char *name, size_t name_len, const char *value,
		     size_t value_len)
{
#define IS(lit) (name_len == sizeof(lit) - 1 && strncasecmp(name, lit, name_len) == 0)
	if (IS(":path")) {
		if (value_len > HTTP_PATH_MAX)
			r->path_too_long = true;
		else
			copy_field(r->path, sizeof(r->path), value, value_len);
	} else if (IS(":method")) {
		r->method = http_method_from(value, value_len);
	} else if (IS("content-type")) {
		copy_field(r->content_type, sizeof(r->content_type), value, value_len);
	} else if (IS("accept")) {
		copy_field(r->accept, sizeof(r->accept), value, value_len);
	} else if (IS("x-forwarded-for")) {
		/* the last entry is the one our proxy added */
		const char *comma = memrchr(value, ',', value_len);
		if (comma) {
			value_len -= (size_t)(comma + 1 - value);
			value = comma + 1;
		}
		while (value_len && (*value == ' ' || *value == '\t')) {
			value++;
			value_len--;
		}
		copy_field(r->forwarded_for, sizeof(r->forwarded_for), value, value_len);
	}
#undef IS
}

int http_req_body(struct http_req *r, const uint8_t *p, size_t len)
{
	if (r->body_too_big)
		return 0;
	if (r->body_len + len > HTTP_BODY_MAX) {
		r->body_too_big = true;
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		return 0;
	}
	uint8_t *grown = realloc(r->body, r->body_len + len + 1);
	if (!grown)
		return -ENOMEM;
	r->body = grown;
	memcpy(r->body + r->body_len, p, len);
	r->body_len += len;
	return 0;
}

void http_req_clear(struct http_req *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

enum http_verb http_method_from(const char *m, size_t len)
{
	if (len == 3 && memcmp(m, "GET", 3) == 0)
		return VERB_GET;
	if (len == 4 && memcmp(m, "POST", 4) == 0)
		return VERB_POST;
	if (len == 4 && memcmp(m, "HEAD", 4) == 0)
		return VERB_HEAD;
	return VERB_OTHER;
}

void http_req_init(struct http_req *r)
{
	r->method = VERB_OTHER;
	r->path[0] = '\0';
	r->path_too_long = false;
	r->content_type[0] = '\0';
	r->accept[0] = '\0';
	r->forwarded_for[0] = '\0';
	r->body = NULL;
	r->body_len = 0;
	r->body_too_big = false;
	r->headers_too_big = false;
	r->owner_data = NULL;
	r->stream_id = 0;
	r->next = NULL;
}
