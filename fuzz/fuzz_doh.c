/* fuzz/fuzz_doh: libFuzzer target for the DoH request path: the input is what
 * a client sends on a connection. The first byte picks the protocol: even,
 * HTTP/2 (the client preface is prepended, the rest goes through nghttp2 in
 * proto/http2 as frames); odd, HTTP/1.1 (proto/http1, libhttp-parser). Each
 * whole request goes through proto/dohmsg to a DNS query or a 4xx status, the
 * query through msg_parse() and, when it parses, a JSON rendering of it
 * (proto/json); every request is answered so the response paths run too.
 * The remaining input is fed in pieces whose sizes come from the data, to
 * exercise reassembly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dohmsg.h"
#include "proto/http1.h"
#include "proto/http2.h"
#include "proto/json.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct doh_query q;
static char json[256 * 1024];
static size_t sent;

struct owner {
	struct h2_conn *h2;
	struct h1_conn *h1;
};

static void on_request(void *arg, struct http_req *req)
{
	struct owner *o = arg;
	int status = doh_parse(req, "/dns-query", &q);
	const uint8_t *body = (const uint8_t *)"no";
	size_t len = 2;
	if (status == 200) {
		struct msg m;
		if (msg_parse(&m, q.wire, q.len, NULL) == 0 && q.json)
			(void)dns_json_write(q.wire, q.len, json, sizeof(json));
		body = q.wire;
		len = q.len;
	}
	struct http_header h[] = { { "content-type", "application/dns-message" } };
	if (o->h2)
		h2_respond(o->h2, req, status, h, 1, body, len);
	else
		h1_respond(o->h1, req, status, h, 1, body, len);
}

static void on_closed(void *arg, struct http_req *req)
{
}

static int on_send(void *arg, const uint8_t *p, size_t len)
{
	sent += len;
	return 0;
}

static const struct h2_ops h2_ops = { on_request, on_closed, on_send };
static const struct h1_ops h1_ops = { on_request, on_send };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct owner o = { 0 };
	bool h2 = (data[0] & 1) == 0;
	size_t chunk = (size_t)data[1] * 7 + 1;
	data += 2;
	size = size - 2;
	if (h2) {
		static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
		o.h2 = h2_new(&h2_ops, &o, 100);
		if (!o.h2)
			return 0;
		if (h2_recv(o.h2, (const uint8_t *)preface, sizeof(preface) - 1) < 0)
			abort(); /* our own preface must always be accepted */
	} else {
		o.h1 = h1_new(&h1_ops, &o);
		if (!o.h1)
			return 0;
	}
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;
		int rc = h2 ? h2_recv(o.h2, data, n) : h1_recv(o.h1, data, n);
		if (h2)
			(void)h2_flush(o.h2);
		if (rc < 0)
			break;
		data += n;
		size -= n;
	}
	h2_free(o.h2);
	h1_free(o.h1);
	return 0;
}
