/* proto/dohmsg: DoH request -> DNS query or 4xx; see dohmsg.h. */
#include "proto/dohmsg.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "proto/base64url.h"
#include "proto/wire.h"

#define JSON_EDNS_SIZE 1232

/* The value of query parameter @key in @query (up to '#' or the end), or NULL. */
static const char *param(const char *query, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	for (const char *p = query; p && *p;) {
		const char *end = p + strcspn(p, "&#");
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			*len = (size_t)(end - p - klen - 1);
			return p + klen + 1;
		}
		if (*end != '&')
			break;
		p = end + 1;
	}
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decoding ('+' is a space in a form) into @out; false when malformed. */
static bool unescape(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			if (i + 2 >= len)
				return false;
			int a = hexval(in[i + 1]), b = hexval(in[i + 2]);
			if (a < 0 || b < 0)
				return false;
			c = (char)(a << 4 | b);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static bool flag_param(const char *query, const char *key)
{
	size_t len;
	const char *v = param(query, key, &len);
	return v && len > 0 && !(len == 1 && v[0] == '0') && !(len == 5 && !strncmp(v, "false", 5));
}

static bool media_is(const char *field, const char *type)
{
	/* "application/dns-message", maybe with parameters or in a list */
	size_t n = strlen(type);
	for (const char *p = field; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncasecmp(p, type, n) == 0 && (p[n] == '\0' || p[n] == ';' || p[n] == ',' ||
						     p[n] == ' '))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static int json_query(const char *query, struct doh_query *q)
{
	size_t len;
	char text[1024];
	const char *v = param(query, "name", &len);
	uint8_t name[NAME_MAX_WIRE];
	if (!v || len == 0 || !unescape(v, len, text, sizeof(text)) ||
	    name_from_text(text, name) < 0) {
		q->reason = "missing or malformed name parameter";
		return 400;
	}
	uint16_t type = TYPE_A;
	v = param(query, "type", &len);
	if (v && len > 0) {
		char t[32];
		if (!unescape(v, len, t, sizeof(t))) {
			q->reason = "malformed type parameter";
			return 400;
		}
		char *end;
		unsigned long n = strtoul(t, &end, 10);
		if (isdigit((unsigned char)t[0]) && *end == '\0' && n <= 65535)
			type = (uint16_t)n;
		else if ((type = (uint16_t)ldns_get_rr_type_by_name(t)) == 0) {
			q->reason = "unknown type";
			return 400;
		}
	}
	uint16_t flags = FLAG_RD | (flag_param(query, "cd") ? FLAG_CD : 0);
	struct msg_builder b;
	mb_init(&b, q->wire, sizeof(q->wire), 0, flags);
	if (mb_question(&b, name, type, CLASS_IN) < 0 ||
	    mb_opt(&b, JSON_EDNS_SIZE, 0, flag_param(query, "do") ? EDNS_FLAG_DO : 0, NULL, 0) < 0) {
		q->reason = "name too long";
		return 400;
	}
	q->len = mb_finish(&b);
	q->json = true;
	return 200;
}

int doh_parse(const struct http_req *r, const char *path, struct doh_query *q)
{
	q->len = 0;
	q->json = false;
	q->reason = NULL;
	if (r->headers_too_big) {
		q->reason = "request headers too large";
		return 431;
	}
	if (r->path_too_long) {
		q->reason = "URI too long";
		return 414;
	}
	size_t plen = strlen(path);
	const char *query = NULL;
	if (strncmp(r->path, path, plen) != 0 ||
	    (r->path[plen] != '\0' && r->path[plen] != '?' && r->path[plen] != '/')) {
		q->reason = "not found";
		return 404;
	}
	/* the endpoint: the configured path, or a path below it (tenants) */
	size_t elen = strcspn(r->path, "?");
	if (elen >= sizeof(q->endpoint) || (elen > plen && elen == plen + 1)) {
		q->reason = "not found";
		return 404;
	}
	memcpy(q->endpoint, r->path, elen);
	q->endpoint[elen] = '\0';
	if (r->path[elen] == '?')
		query = r->path + elen + 1;
	bool want_json = media_is(r->accept, DOH_JSON_TYPE);
	if (r->method == VERB_GET || r->method == VERB_HEAD) {
		size_t len;
		const char *v = query ? param(query, "dns", &len) : NULL;
		if (query && (want_json || param(query, "ct", &len))) {
			const char *ct = param(query, "ct", &len);
			want_json |= ct && len == strlen(DOH_JSON_TYPE) &&
				     strncasecmp(ct, DOH_JSON_TYPE, len) == 0;
		}
		if (!v && query && param(query, "name", &len))
			return json_query(query, q);
		if (!v) {
			q->reason = "missing dns parameter";
			return 400;
		}
		long n = base64url_decode(v, len, q->wire, sizeof(q->wire));
		if (n < DNS_HDR_LEN) {
			q->reason = "malformed dns parameter (base64url without padding)";
			return 400;
		}
		q->len = (size_t)n;
		q->json = want_json;
		return 200;
	}
	if (r->method == VERB_POST) {
		if (r->body_too_big) {
			q->reason = "body larger than a DNS message";
			return 413;
		}
		if (!media_is(r->content_type, DOH_MEDIA_TYPE)) {
			q->reason = "content-type must be " DOH_MEDIA_TYPE;
			return 415;
		}
		if (r->body_len < DNS_HDR_LEN) {
			q->reason = "body is not a DNS message";
			return 400;
		}
		memcpy(q->wire, r->body, r->body_len);
		q->len = r->body_len;
		q->json = want_json;
		return 200;
	}
	q->reason = "method not allowed (GET or POST)";
	return 405;
}
