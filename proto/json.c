/* proto/json: DNS message -> JSON; see json.h. */
#include "proto/json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

struct out {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_string(struct out *o, const char *s)
{
	put(o, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c && !o->full; c++) {
		if (*c == '"' || *c == '\\')
			put(o, "\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			put(o, "\\u%04x", *c);
		else
			put(o, "%c", *c);
	}
	put(o, "\"");
}

static void put_rdf_text(struct out *o, const ldns_rr *rr)
{
	/* the RDATA fields, space-separated, as in a zone file */
	ldns_buffer *b = ldns_buffer_new(256);
	if (!b) {
		o->full = true;
		return;
	}
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		if (i > 0)
			ldns_buffer_printf(b, " ");
		ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
	}
	char *text = ldns_buffer_export2str(b);
	ldns_buffer_free(b);
	put_string(o, text ? text : "");
	free(text);
}

static void put_owner(struct out *o, const ldns_rdf *owner)
{
	char *name = ldns_rdf2str(owner);
	put_string(o, name ? name : "");
	free(name);
}

static void put_section(struct out *o, const char *key, const ldns_rr_list *rrs, bool question)
{
	size_t n = ldns_rr_list_rr_count(rrs);
	if (n == 0 && !question)
		return;
	put(o, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		put(o, "%s{\"name\":", i ? "," : "");
		put_owner(o, ldns_rr_owner(rr));
		put(o, ",\"type\":%u", (unsigned)ldns_rr_get_type(rr));
		if (!question) {
			put(o, ",\"TTL\":%u,\"data\":", (unsigned)ldns_rr_ttl(rr));
			put_rdf_text(o, rr);
		}
		put(o, "}");
	}
	put(o, "]");
}

long dns_json_write(const uint8_t *wire, size_t len, char *outbuf, size_t cap)
{
	ldns_pkt *pkt = NULL;
	if (cap == 0 || ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK)
		return -1;
	struct out o = { outbuf, cap, 0, false };
	unsigned rcode = ldns_pkt_get_rcode(pkt) | (unsigned)ldns_pkt_edns_extended_rcode(pkt) << 4;
#define B(x) ((x) ? "true" : "false")
	put(&o, "{\"Status\":%u,\"TC\":%s,\"RD\":%s,\"RA\":%s,\"AD\":%s,\"CD\":%s", rcode,
	    B(ldns_pkt_tc(pkt)), B(ldns_pkt_rd(pkt)), B(ldns_pkt_ra(pkt)), B(ldns_pkt_ad(pkt)),
	    B(ldns_pkt_cd(pkt)));
#undef B
	put_section(&o, "Question", ldns_pkt_question(pkt), true);
	put_section(&o, "Answer", ldns_pkt_answer(pkt), false);
	put_section(&o, "Authority", ldns_pkt_authority(pkt), false);
	put(&o, "}\n");
	ldns_pkt_free(pkt);
	return o.full ? -1 : (long)o.len;
}
