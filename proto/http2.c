/* proto/http2: nghttp2 server session glue; see http2.h. */
#include "proto/http2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#define H2_SMALL_BODY 512 /* a typical DNS answer fits */

struct h2_stream {
	struct http_req req;     /* first: the owner sees only this */
	size_t header_bytes;
	bool handed;             /* given to the owner */
	uint8_t *resp;           /* the response body, sent by read_body(): small ones in */
	size_t resp_len, resp_off;
	uint8_t resp_small[H2_SMALL_BODY]; /* ...here, no allocation */
	struct h2_stream *prev, *next; /* every stream of the connection: nghttp2_session_del()
				       * frees its streams without on_stream_close */
};

struct h2_conn {
	nghttp2_session *s;
	const struct h2_ops *ops;
	void *owner;
	size_t n_streams;
	struct h2_stream *streams;
	time_t reset_window;     /* the second the resets below were counted in */
	unsigned resets;
	bool fatal;
};

static struct h2_stream *stream_of(struct h2_conn *h, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h->s, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2_conn *h = arg;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* not calloc: the request's text fields are 4 KiB, and each is read only up
	 * to its NUL (http_req_init) */
	struct h2_stream *st = malloc(sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* this stream is reset */
	http_req_init(&st->req);
	st->header_bytes = 0;
	st->handed = false;
	st->resp = NULL;
	st->resp_len = st->resp_off = 0;
	st->prev = st->next = NULL;
	st->req.stream_id = f->hd.stream_id;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
	st->next = h->streams;
	if (h->streams)
		h->streams->prev = st;
	h->streams = st;
	h->n_streams++;
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
	struct h2_conn *h = arg;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct h2_stream *st = stream_of(h, f->hd.stream_id);
	if (!st || st->handed)
		return 0; /* trailers: ignored */
	/* RFC 7541 4.1: each field counts its name, value and 32 */
	st->header_bytes += namelen + valuelen + 32;
	if (st->header_bytes > H2_HEADER_LIST_MAX) {
		st->req.headers_too_big = true;
		return 0;
	}
	http_req_header(&st->req, (const char *)name, namelen, (const char *)value, valuelen);
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *arg)
{
	struct h2_conn *h = arg;
	struct h2_stream *st = stream_of(h, id);
	if (!st || st->handed)
		return 0;
	if (http_req_body(&st->req, data, len) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static int count_reset(struct h2_conn *h)
{
	time_t now = time(NULL);
	if (now != h->reset_window) {
		h->reset_window = now;
		h->resets = 0;
	}
	if (++h->resets > H2_RESETS_PER_S) {
		/* CVE-2023-44487: streams opened and reset at once cost us work the
		 * concurrency limit does not see. Enough: GOAWAY and close. */
		nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM);
		h->fatal = true;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2_conn *h = arg;
	if (f->hd.type == NGHTTP2_RST_STREAM)
		return count_reset(h);
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct h2_stream *st = stream_of(h, f->hd.stream_id);
	if (!st || st->handed)
		return 0;
	st->handed = true;
	h->ops->request(h->owner, &st->req);
	return 0;
}

static void stream_free(struct h2_conn *h, struct h2_stream *st)
{
	if (st->handed)
		h->ops->stream_closed(h->owner, &st->req);
	if (st->prev)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	http_req_clear(&st->req);
	if (st->resp != st->resp_small)
		free(st->resp);
	free(st);
	h->n_streams--;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *arg)
{
	struct h2_conn *h = arg;
	struct h2_stream *st = stream_of(h, id);
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	stream_free(h, st);
	return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2_stream *st = src->ptr;
	size_t left = st->resp_len - st->resp_off;
	size_t n = left < len ? left : len;
	memcpy(buf, st->resp + st->resp_off, n);
	st->resp_off += n;
	if (st->resp_off == st->resp_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

struct h2_conn *h2_new(const struct h2_ops *ops, void *owner, uint32_t max_streams)
{
	struct h2_conn *h = calloc(1, sizeof(*h));
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	if (!h || nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
		goto fail;
	h->ops = ops;
	h->owner = owner;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	/* nghttp2's own guards, made explicit (defaults differ between versions) */
	nghttp2_option_set_max_settings(opt, 32);          /* entries per SETTINGS frame */
	nghttp2_option_set_max_outbound_ack(opt, 1000);    /* PING/SETTINGS floods */
	nghttp2_option_set_stream_reset_rate_limit(opt, H2_RESETS_PER_S, H2_RESETS_PER_S / 2);
	nghttp2_option_set_max_continuations(opt, 8);
	nghttp2_option_set_max_send_header_block_length(opt, 16384);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	/* streams beyond the limit are refused by nghttp2 (RST_STREAM), no memory */
	nghttp2_option_set_max_reserved_remote_streams(opt, 0);
	if (nghttp2_session_server_new2(&h->s, cb, h, opt) != 0)
		goto fail;
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_HEADER_LIST_MAX },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, HTTP_BODY_MAX },
	};
	if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0) {
		nghttp2_session_del(h->s);
		free(h);
		return NULL;
	}
	return h;
fail:
	if (cb)
		nghttp2_session_callbacks_del(cb);
	if (opt)
		nghttp2_option_del(opt);
	free(h);
	return NULL;
}

void h2_free(struct h2_conn *h)
{
	if (!h)
		return;
	nghttp2_session_del(h->s);
	while (h->streams)
		stream_free(h, h->streams); /* stream_closed() for those still handed out */
	free(h);
}

int h2_recv(struct h2_conn *h, const uint8_t *p, size_t len)
{
	if (h->fatal)
		return -EPROTO;
	ssize_t r = nghttp2_session_mem_recv(h->s, p, len);
	if (r < 0) {
		/* a connection error (or a flood): GOAWAY if it can still be said */
		if (r != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
			nghttp2_session_terminate_session(h->s, NGHTTP2_PROTOCOL_ERROR);
		h->fatal = true;
		return -EPROTO;
	}
	return h->fatal ? -EPROTO : 0;
}

int h2_flush(struct h2_conn *h)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(h->s, &data);
		if (n < 0) {
			h->fatal = true;
			return -EPROTO;
		}
		if (n == 0)
			return 0;
		int rc = h->ops->send(h->owner, data, (size_t)n);
		if (rc < 0)
			return rc;
	}
}

int h2_respond(struct h2_conn *h, struct http_req *req, int status, const struct http_header *hdrs,
	       size_t n_hdrs, const uint8_t *body, size_t body_len)
{
	struct h2_stream *st = (struct h2_stream *)req;
	char status_text[4];
	nghttp2_nv nv[8];
	if (n_hdrs > 7 || status < 100 || status > 999)
		return -EINVAL;
	status_text[0] = (char)('0' + status / 100);
	status_text[1] = (char)('0' + status / 10 % 10);
	status_text[2] = (char)('0' + status % 10);
	status_text[3] = '\0';
	nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status_text, 7, 3,
			      NGHTTP2_NV_FLAG_NONE };
	for (size_t i = 0; i < n_hdrs; i++)
		nv[i + 1] = (nghttp2_nv){ (uint8_t *)hdrs[i].name, (uint8_t *)hdrs[i].value,
					  strlen(hdrs[i].name), strlen(hdrs[i].value),
					  NGHTTP2_NV_FLAG_NONE };
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_body };
	if (body_len > 0) {
		st->resp = body_len <= sizeof(st->resp_small) ? st->resp_small : malloc(body_len);
		if (!st->resp)
			return -ENOMEM;
		memcpy(st->resp, body, body_len);
		st->resp_len = body_len;
	}
	/* the request is answered: the owner no longer holds it */
	st->handed = false;
	http_req_clear(&st->req);
	int rc = nghttp2_submit_response(h->s, st->req.stream_id, nv, n_hdrs + 1,
					 req->method == VERB_HEAD ? NULL : &prd);
	return rc == 0 ? 0 : -EPROTO;
}

bool h2_done(const struct h2_conn *h)
{
	return h->fatal ||
	       (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s));
}

void h2_goaway(struct h2_conn *h)
{
	nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(h->s), NGHTTP2_NO_ERROR,
			      NULL, 0);
}

size_t h2_streams(const struct h2_conn *h)
{
	return h->n_streams;
}
