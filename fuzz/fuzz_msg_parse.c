/* fuzz/fuzz_msg_parse: libFuzzer target for proto/wire. Parses the input and
 * reads every RR and EDNS option through the accessors; when the parse
 * succeeds, rebuilds the message with mb_* from what was read and checks that
 * the copy parses and reads back the same. Any disagreement aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/wire.h"
#include "fuzz/fuzz.h"

#define TEXT_MAX (NAME_MAX_WIRE * 4 + 1) /* every byte as \DDD, plus the NUL */

static uint8_t rdata_a[UINT16_MAX], rdata_b[UINT16_MAX];
static uint8_t rebuilt[UINT16_MAX];

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* What the name helpers must agree on for any name the reader hands out. */
static void check_name(const uint8_t *name, int len, const uint8_t *other)
{
	CHECK(len >= 1 && len <= NAME_MAX_WIRE);
	CHECK(name_len(name) == (size_t)len);
	CHECK(name_labels(name) <= 127);
	CHECK(name_compare(name, name) == 0);
	CHECK(name_equal(name, name));
	CHECK(sign(name_compare(name, other)) == -sign(name_compare(other, name)));
	CHECK((name_compare(name, other) == 0) == name_equal(name, other));
	CHECK(name_is_under(name, name_suffix(name, name_labels(name) / 2)));

	char text[TEXT_MAX];
	uint8_t back[NAME_MAX_WIRE];
	CHECK(name_to_text(name, text, sizeof(text)) > 0);
	CHECK(name_from_text(text, back) == len);
	CHECK(memcmp(back, name, (size_t)len) == 0);
}

/* Read everything msg_parse() vouched for; nothing here may fail but RDATA
 * layout checks. */
static void walk(const struct msg *m)
{
	const uint8_t *prev = m->qname;
	uint8_t owner[NAME_MAX_WIRE], last[NAME_MAX_WIRE];

	if (m->hdr.qdcount)
		check_name(m->qname, (int)name_len(m->qname), m->qname);
	for (int s = SEC_ANSWER; s <= SEC_ADDITIONAL; s++) {
		struct rr_iter it;
		struct rr_view rr;
		unsigned n = 0;
		rr_iter_init(m, &it, s);
		while (rr_next(m, &it, &rr)) {
			int len = rr_owner(m, &rr, owner);
			CHECK(len > 0);
			check_name(owner, len, prev);
			memcpy(last, owner, (size_t)len);
			prev = last;
			int rd = rr_rdata_unpack(m, &rr, rdata_a, sizeof(rdata_a));
			CHECK(rd >= 0 || rd == TERN_EMALFORMED);
			n++;
		}
		CHECK(n == m->count[s]);
	}

	uint16_t pos = 0, code, len;
	const uint8_t *data;
	size_t seen = 0;
	while (edns_next_option(m, &pos, &code, &data, &len)) {
		CHECK(data >= m->wire && data + len <= m->wire + m->len);
		seen += 4u + len;
	}
	CHECK(seen == (m->has_opt ? m->opt_rdlen : 0));
}

/* Write @m again with mb_*; returns the length, and whether every record fit
 * (decompressed names may not) in @complete. */
static size_t rebuild(const struct msg *m, bool *complete)
{
	struct msg_builder b;
	uint8_t owner[NAME_MAX_WIRE];

	*complete = true;
	mb_init(&b, rebuilt, sizeof(rebuilt), m->hdr.id, m->hdr.flags);
	if (m->hdr.qdcount)
		CHECK(mb_question(&b, m->qname, m->qtype, m->qclass) == 0);
	for (int s = SEC_ANSWER; s <= SEC_ADDITIONAL; s++) {
		struct rr_iter it;
		struct rr_view rr;
		rr_iter_init(m, &it, s);
		while (rr_next(m, &it, &rr)) {
			int ret;
			if (rr.type == TYPE_OPT) {
				ret = mb_opt(&b, m->edns_udp_size, m->edns_ext_rcode, m->edns_flags,
					     m->wire + m->opt_rdata_at, m->opt_rdlen);
			} else {
				CHECK(rr_owner(m, &rr, owner) > 0);
				const uint8_t *rd = rdata_a;
				int rdlen = rr_rdata_unpack(m, &rr, rdata_a, sizeof(rdata_a));
				if (rdlen < 0) { /* a layout we refuse: carry the bytes as they are */
					rd = m->wire + rr.rdata_at;
					rdlen = rr.rdlen;
				}
				ret = mb_rr(&b, s, owner, rr.type, rr.rclass, rr.ttl, rd,
					    (uint16_t)rdlen);
			}
			CHECK(ret == 0 || ret == TERN_ESPACE);
			if (ret == TERN_ESPACE)
				*complete = false;
		}
	}
	return mb_finish(&b);
}

/* The rebuilt message @c must read back as @m did, record by record. */
static void compare(const struct msg *m, const struct msg *c)
{
	uint8_t oa[NAME_MAX_WIRE], ob[NAME_MAX_WIRE];

	CHECK(c->hdr.id == m->hdr.id && c->hdr.flags == m->hdr.flags);
	CHECK(c->hdr.qdcount == m->hdr.qdcount);
	CHECK(memcmp(c->qname, m->qname, name_len(m->qname)) == 0); /* case kept */
	CHECK(c->qtype == m->qtype && c->qclass == m->qclass);
	CHECK(c->has_opt == m->has_opt);
	if (m->has_opt) {
		CHECK(c->edns_udp_size == m->edns_udp_size);
		CHECK(c->edns_ext_rcode == m->edns_ext_rcode);
		CHECK(c->edns_flags == m->edns_flags);
		CHECK(c->opt_rdlen == m->opt_rdlen);
		CHECK(memcmp(c->wire + c->opt_rdata_at, m->wire + m->opt_rdata_at,
			     m->opt_rdlen) == 0);
	}
	for (int s = SEC_ANSWER; s <= SEC_ADDITIONAL; s++) {
		struct rr_iter ia, ib;
		struct rr_view a, b;
		CHECK(c->count[s] == m->count[s]);
		rr_iter_init(m, &ia, s);
		rr_iter_init(c, &ib, s);
		while (rr_next(m, &ia, &a)) {
			CHECK(rr_next(c, &ib, &b));
			CHECK(a.type == b.type);
			CHECK(rr_owner(m, &a, oa) > 0 && rr_owner(c, &b, ob) > 0);
			/* compression may borrow the case of an earlier name */
			CHECK(name_equal(oa, ob));
			if (a.type == TYPE_OPT) /* mb_opt() writes version 0 */
				continue;
			CHECK(a.rclass == b.rclass && a.ttl == b.ttl);
			int la = rr_rdata_unpack(m, &a, rdata_a, sizeof(rdata_a));
			if (la < 0)
				continue; /* copied raw; its pointers now point elsewhere */
			int lb = rr_rdata_unpack(c, &b, rdata_b, sizeof(rdata_b));
			CHECK(lb == la && memcmp(rdata_a, rdata_b, (size_t)la) == 0);
		}
		CHECK(!rr_next(c, &ib, &b));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg m, c;
	const char *why = NULL;

	if (msg_parse(&m, data, size, &why) != 0) {
		CHECK(why != NULL);
		return 0;
	}
	CHECK(why == NULL && m.len == size);
	walk(&m);

	bool complete;
	size_t len = rebuild(&m, &complete);
	CHECK(msg_parse(&c, rebuilt, len, &why) == 0);
	walk(&c);
	if (complete)
		compare(&m, &c);
	return 0;
}
