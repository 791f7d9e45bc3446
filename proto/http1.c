/* proto/http1: HTTP/1.1 with libhttp-parser; see http1.h. */
#include "proto/http1.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

struct h1_req {
	struct http_req req;   /* first: the owner sees only this */
	struct h1_req *next;   /* in request order */
	bool answered;
	bool keep_alive;
	uint8_t *resp;         /* the whole response, head and body */
	size_t resp_len;
};

struct h1_conn {
	http_parser parser;
	http_parser_settings settings;
	const struct h1_ops *ops;
	void *owner;
	struct h1_req *head, *tail; /* requests in order, until their response is sent */
	struct h1_req *cur;         /* being parsed */
	size_t n_pending;
	char field[32];             /* the header name being read (longer names are ignored) */
	size_t field_len;
	bool field_long;
	bool in_value;
	char value[HTTP_FIELD_MAX + 1];
	size_t value_len;
	uint8_t *rest;              /* bytes not parsed yet (back-pressure) */
	size_t rest_len;
	bool closing;               /* no request after the last one */
	bool failed;
};

static struct h1_conn *of(http_parser *p)
{
	return p->data;
}

static void flush_header(struct h1_conn *h)
{
	if (h->cur && h->field_len && !h->field_long)
		http_req_header(&h->cur->req, h->field, h->field_len, h->value, h->value_len);
	h->field_len = h->value_len = 0;
	h->field_long = h->in_value = false;
}

static int on_message_begin(http_parser *p)
{
	struct h1_conn *h = of(p);
	struct h1_req *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	h->cur = r;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_req *r = &of(p)->cur->req;
	size_t have = strlen(r->path);
	if (r->path_too_long || have + len > HTTP_PATH_MAX) {
		r->path_too_long = true;
		return 0;
	}
	memcpy(r->path + have, at, len);
	r->path[have + len] = '\0';
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *h = of(p);
	if (h->in_value)
		flush_header(h);
	if (h->field_len + len >= sizeof(h->field)) {
		h->field_long = true;
		return 0;
	}
	memcpy(h->field + h->field_len, at, len);
	h->field_len += len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *h = of(p);
	h->in_value = true;
	size_t n = len;
	if (h->value_len + n > HTTP_FIELD_MAX)
		n = HTTP_FIELD_MAX - h->value_len;
	memcpy(h->value + h->value_len, at, n);
	h->value_len += n;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct h1_conn *h = of(p);
	flush_header(h);
	struct http_req *r = &h->cur->req;
	const char *m = http_method_str((enum http_method)p->method);
	r->method = http_method_from(m, strlen(m));
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > HTTP_BODY_MAX)
		r->body_too_big = true; /* answered 413 without reading it: then closed */
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *h = of(p);
	return http_req_body(&h->cur->req, (const uint8_t *)at, len) < 0 ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
	struct h1_conn *h = of(p);
	struct h1_req *r = h->cur;
	h->cur = NULL;
	r->keep_alive = http_should_keep_alive(p) && !r->req.body_too_big;
	if (h->tail)
		h->tail->next = r;
	else
		h->head = r;
	h->tail = r;
	h->n_pending++;
	if (!r->keep_alive)
		h->closing = true;
	if (h->closing || h->n_pending >= H1_PIPELINE_MAX)
		http_parser_pause(p, 1); /* the rest waits (or, closing, is dropped) */
	h->ops->request(h->owner, &r->req);
	return 0;
}

struct h1_conn *h1_new(const struct h1_ops *ops, void *owner)
{
	struct h1_conn *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	http_parser_set_max_header_size(H1_HEADERS_MAX);
	http_parser_init(&h->parser, HTTP_REQUEST);
	h->parser.data = h;
	http_parser_settings_init(&h->settings);
	h->settings.on_message_begin = on_message_begin;
	h->settings.on_url = on_url;
	h->settings.on_header_field = on_header_field;
	h->settings.on_header_value = on_header_value;
	h->settings.on_headers_complete = on_headers_complete;
	h->settings.on_body = on_body;
	h->settings.on_message_complete = on_message_complete;
	h->ops = ops;
	h->owner = owner;
	return h;
}

static void req_free(struct h1_req *r)
{
	http_req_clear(&r->req);
	free(r->resp);
	free(r);
}

void h1_free(struct h1_conn *h)
{
	if (!h)
		return;
	while (h->head) {
		struct h1_req *r = h->head;
		h->head = r->next;
		req_free(r);
	}
	if (h->cur)
		req_free(h->cur);
	free(h->rest);
	free(h);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Send the answered responses at the head, in order. */
static int send_ready(struct h1_conn *h)
{
	while (h->head && h->head->answered) {
		struct h1_req *r = h->head;
		int rc = h->ops->send(h->owner, r->resp, r->resp_len);
		h->head = r->next;
		if (!h->head)
			h->tail = NULL;
		req_free(r);
		h->n_pending--;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void fail_request(struct h1_conn *h)
{
	/* 400 and close: after a syntax error the stream cannot be trusted */
	static const char resp[] = "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n"
				   "content-length: 12\r\nconnection: close\r\n\r\nbad request\n";
	h->failed = h->closing = true;
	if (!h->head)
		h->ops->send(h->owner, (const uint8_t *)resp, sizeof(resp) - 1);
}

static int parse(struct h1_conn *h, const uint8_t *p, size_t len)
{
	for (;;) {
		http_parser_pause(&h->parser, 0);
		size_t n = http_parser_execute(&h->parser, &h->settings, (const char *)p, len);
		enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
		if (e == HPE_OK)
			return 0;
		if (e != HPE_PAUSED) {
			fail_request(h);
			return -EPROTO;
		}
		if (h->closing)
			return 0; /* nothing after Connection: close is read */
		p += n;
		len -= n;
		if (h->n_pending < H1_PIPELINE_MAX)
			continue; /* answered at once: go on */
		uint8_t *keep = malloc(len ? len : 1);
		if (!keep)
			return -ENOMEM;
		memcpy(keep, p, len);
		h->rest = keep;
		h->rest_len = len;
		return 0;
	}
}

int h1_recv(struct h1_conn *h, const uint8_t *p, size_t len)
{
	if (h->closing)
		return 0;
	if (h->rest) {
		/* blocked: the owner should not be reading; keep order anyway */
		uint8_t *grown = realloc(h->rest, h->rest_len + len);
		if (!grown)
			return -ENOMEM;
		memcpy(grown + h->rest_len, p, len);
		h->rest = grown;
		h->rest_len += len;
		return 0;
	}
	return parse(h, p, len);
}

int h1_respond(struct h1_conn *h, struct http_req *req, int status,
	       const struct http_header *hdrs, size_t n_hdrs, const uint8_t *body, size_t len)
{
	struct h1_req *r = (struct h1_req *)req;
	char head[1024];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\n", status,
			 status_text(status), len);
	for (size_t i = 0; i < n_hdrs && n > 0 && (size_t)n < sizeof(head); i++)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "%s: %s\r\n", hdrs[i].name,
			      hdrs[i].value);
	if (n > 0 && (size_t)n < sizeof(head) && !r->keep_alive)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "connection: close\r\n");
	if (n <= 0 || (size_t)n + 2 >= sizeof(head))
		return -ENOSPC;
	memcpy(head + n, "\r\n", 2);
	n += 2;
	if (req->method == VERB_HEAD)
		len = 0;
	r->resp = malloc((size_t)n + len);
	if (!r->resp)
		return -ENOMEM;
	memcpy(r->resp, head, (size_t)n);
	if (len)
		memcpy(r->resp + n, body, len);
	r->resp_len = (size_t)n + len;
	r->answered = true;
	http_req_clear(&r->req);
	int rc = send_ready(h);
	if (rc < 0)
		return rc;
	/* room again: parse what waited */
	if (h->rest && !h->closing && h->n_pending < H1_PIPELINE_MAX) {
		uint8_t *rest = h->rest;
		size_t rest_len = h->rest_len;
		h->rest = NULL;
		h->rest_len = 0;
		rc = parse(h, rest, rest_len);
		free(rest);
	}
	return rc;
}

bool h1_blocked(const struct h1_conn *h)
{
	return h->rest != NULL || h->closing;
}

bool h1_done(const struct h1_conn *h)
{
	return h->closing && !h->head;
}

size_t h1_pending(const struct h1_conn *h)
{
	return h->n_pending;
}
