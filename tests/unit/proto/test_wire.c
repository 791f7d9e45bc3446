/* tests for proto/wire: the reader's checks on hostile bytes (pointers, lengths,
 * counts, OPT placement), RDATA decompression, the writer's compression and
 * rollback, and the name helpers. Packets are byte arrays written by hand;
 * offsets in the comments are from the start of the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "proto/wire.h"

/* Wire form of a presentation name, for building expectations. */
static const uint8_t *N(const char *text)
{
	static uint8_t bufs[16][NAME_MAX_WIRE];
	static int next;
	uint8_t *out = bufs[next++ % 16];
	int len = name_from_text(text, out);
	assert_true(len > 0);
	return out;
}

static int parse(const uint8_t *wire, size_t len, const char **why)
{
	struct msg m;
	return msg_parse(&m, wire, len, why);
}

/* www.example.com. A, answered through a CNAME, with a referral-style NS, its
 * glue and an OPT carrying a cookie: compression everywhere, as servers send. */
static const uint8_t response[] = {
	0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0x02,
	/* 12: question www.example.com. A IN; "example.com." is at 16 */
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
	/* 33: www.example.com. 3600 CNAME example.com. */
	0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x02, 0xc0, 0x10,
	/* 47: example.com. 3600 A 93.184.216.34 */
	0xc0, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04,
	93, 184, 216, 34,
	/* 63: example.com. 86400 NS ns1.example.com.; "ns1..." is at 75 */
	0xc0, 0x10, 0x00, 0x02, 0x00, 0x01, 0x00, 0x01, 0x51, 0x80, 0x00, 0x06,
	3, 'n', 's', '1', 0xc0, 0x10,
	/* 81: ns1.example.com. 86400 A 192.0.2.1 (owner points into the NS RDATA) */
	0xc0, 0x4b, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x51, 0x80, 0x00, 0x04,
	192, 0, 2, 1,
	/* 97: OPT, UDP 1232, DO, cookie option (8 bytes) */
	0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x0c,
	0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
};

static void test_wire_reader_latches_first_error(void **state)
{
	const uint8_t buf[] = { 0x01, 0x02, 0x03 };
	struct wire_reader r = wire_reader_init(buf, sizeof(buf));
	assert_int_equal(wire_read_u16(&r), 0x0102);
	assert_int_equal(r.err, 0);
	assert_int_equal(wire_read_u16(&r), 0);
	assert_int_equal(r.err, TERN_EMALFORMED);
	/* the byte that is still there is not read after the latch */
	assert_int_equal(wire_read_u8(&r), 0);
	assert_null(wire_read_bytes(&r, 1));
	assert_int_equal(r.pos, 2);

	r = wire_reader_init(buf, sizeof(buf));
	assert_ptr_equal(wire_read_bytes(&r, 3), buf);
	assert_int_equal(wire_read_u32(&r), 0);
	assert_int_equal(r.err, TERN_EMALFORMED);
}

static void test_wire_parses_response_with_compression(void **state)
{
	struct msg m;
	const char *why = "unset";
	assert_int_equal(msg_parse(&m, response, sizeof(response), &why), 0);
	assert_null(why);
	assert_int_equal(m.len, sizeof(response));
	assert_int_equal(m.hdr.id, 0x1234);
	assert_true(m.hdr.flags & FLAG_QR);
	assert_int_equal(FLAGS_RCODE(m.hdr.flags), RCODE_NOERROR);
	assert_true(name_equal(m.qname, N("www.example.com")));
	assert_int_equal(m.qtype, TYPE_A);
	assert_int_equal(m.qclass, CLASS_IN);
	assert_int_equal(m.section_at[SEC_QUESTION], 12);
	assert_int_equal(m.section_at[SEC_ANSWER], 33);
	assert_int_equal(m.section_at[SEC_AUTHORITY], 63);
	assert_int_equal(m.section_at[SEC_ADDITIONAL], 81);
	assert_int_equal(m.count[SEC_ANSWER], 2);
	assert_int_equal(m.count[SEC_AUTHORITY], 1);
	assert_int_equal(m.count[SEC_ADDITIONAL], 2);

	assert_true(m.has_opt);
	assert_int_equal(m.opt_at, 97);
	assert_int_equal(m.edns_udp_size, 1232);
	assert_int_equal(m.edns_version, 0);
	assert_int_equal(m.edns_ext_rcode, 0);
	assert_int_equal(m.edns_flags, EDNS_FLAG_DO);
	assert_int_equal(m.opt_rdata_at, 108);
	assert_int_equal(m.opt_rdlen, 12);

	static const struct {
		const char *owner;
		uint16_t type;
		uint32_t ttl;
		uint8_t section;
	} want[] = {
		{ "www.example.com", TYPE_CNAME, 3600, SEC_ANSWER },
		{ "example.com", TYPE_A, 3600, SEC_ANSWER },
		{ "example.com", TYPE_NS, 86400, SEC_AUTHORITY },
		{ "ns1.example.com", TYPE_A, 86400, SEC_ADDITIONAL },
		{ ".", TYPE_OPT, 0x8000, SEC_ADDITIONAL },
	};
	int i = 0;
	for (int s = SEC_ANSWER; s <= SEC_ADDITIONAL; s++) {
		struct rr_iter it;
		struct rr_view rr;
		rr_iter_init(&m, &it, s);
		while (rr_next(&m, &it, &rr)) {
			uint8_t owner[NAME_MAX_WIRE];
			assert_true(i < 5);
			assert_true(rr_owner(&m, &rr, owner) > 0);
			assert_true(name_equal(owner, N(want[i].owner)));
			assert_int_equal(rr.type, want[i].type);
			assert_int_equal(rr.ttl, want[i].ttl);
			assert_int_equal(rr.section, want[i].section);
			i++;
		}
	}
	assert_int_equal(i, 5);
}

static void test_wire_iterates_edns_options(void **state)
{
	struct msg m;
	assert_int_equal(msg_parse(&m, response, sizeof(response), NULL), 0);
	uint16_t pos = 0, code, len;
	const uint8_t *data;
	assert_true(edns_next_option(&m, &pos, &code, &data, &len));
	assert_int_equal(code, EDNS_OPT_COOKIE);
	assert_int_equal(len, 8);
	assert_ptr_equal(data, response + 112);
	assert_false(edns_next_option(&m, &pos, &code, &data, &len));

	/* no OPT: nothing to iterate */
	uint8_t q[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1 };
	assert_int_equal(msg_parse(&m, q, sizeof(q), NULL), 0);
	assert_false(m.has_opt);
	pos = 0;
	assert_false(edns_next_option(&m, &pos, &code, &data, &len));
}

static void test_wire_accepts_message_without_question(void **state)
{
	const uint8_t hdr[12] = { 0xab, 0xcd, 0x80, 0x05 };
	struct msg m;
	assert_int_equal(msg_parse(&m, hdr, sizeof(hdr), NULL), 0);
	assert_int_equal(m.hdr.qdcount, 0);
	assert_int_equal(m.qname[0], 0);
	assert_int_equal(FLAGS_RCODE(m.hdr.flags), RCODE_REFUSED);
	struct rr_iter it;
	struct rr_view rr;
	rr_iter_init(&m, &it, SEC_ANSWER);
	assert_false(rr_next(&m, &it, &rr));
}

static void test_wire_rejects_short_header(void **state)
{
	const char *why = NULL;
	assert_int_equal(parse(response, 11, &why), TERN_EMALFORMED);
	assert_string_equal(why, "short header");
	assert_int_equal(parse(response, 0, &why), TERN_EMALFORMED);
}

static void test_wire_rejects_message_over_65535(void **state)
{
	static uint8_t big[65536];
	const char *why = NULL;
	assert_int_equal(parse(big, sizeof(big), &why), TERN_EMALFORMED);
	assert_string_equal(why, "too long");
	/* 65535 bytes of one huge RR is fine: uint16_t holds the length */
	memset(big, 0, sizeof(big));
	big[7] = 1; /* ANCOUNT 1 */
	size_t rdlen = 65535 - 12 - 11;
	big[12] = 0;
	big[13] = 0, big[14] = 16; /* TXT */
	big[15] = 0, big[16] = 1;
	big[21] = (uint8_t)(rdlen >> 8), big[22] = (uint8_t)rdlen;
	assert_int_equal(parse(big, 65535, &why), 0);
}

static void test_wire_rejects_truncated_question(void **state)
{
	const char *why = NULL;
	/* name complete, class missing */
	assert_int_equal(parse(response, 31, &why), TERN_EMALFORMED);
	assert_string_equal(why, "question truncated");
	/* name cut in the middle */
	assert_int_equal(parse(response, 20, &why), TERN_EMALFORMED);
	assert_string_equal(why, "question name");
}

static void test_wire_rejects_two_questions(void **state)
{
	uint8_t q[] = {
		0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1,
		1, 'b', 0, 0, 1, 0, 1,
	};
	const char *why = NULL;
	assert_int_equal(parse(q, sizeof(q), &why), TERN_EMALFORMED);
	assert_string_equal(why, "qdcount");
}

/* A message with one answer whose owner is @owner (raw bytes, at offset 19,
 * after the question "a." at 12). */
static size_t with_owner(uint8_t *out, const uint8_t *owner, size_t owner_len)
{
	const uint8_t head[] = {
		0, 1, 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1, /* 12: question a. A IN */
	};
	const uint8_t tail[] = { 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1 };
	memcpy(out, head, sizeof(head));
	memcpy(out + sizeof(head), owner, owner_len);
	memcpy(out + sizeof(head) + owner_len, tail, sizeof(tail));
	return sizeof(head) + owner_len + sizeof(tail);
}

static void test_wire_rejects_forward_pointer(void **state)
{
	uint8_t wire[128];
	/* owner at 19 points to 31, inside the RDATA, after itself */
	const uint8_t owner[] = { 0xc0, 31 };
	size_t len = with_owner(wire, owner, sizeof(owner));
	const char *why = NULL;
	assert_int_equal(parse(wire, len, &why), TERN_EMALFORMED);
	assert_string_equal(why, "owner name");

	/* a pointer to itself */
	const uint8_t self[] = { 0xc0, 19 };
	len = with_owner(wire, self, sizeof(self));
	assert_int_equal(parse(wire, len, NULL), TERN_EMALFORMED);

	/* backwards from the pointer but into its own run of labels: 19 is
	 * "\2\1x", 20 reads as "\1x", then the pointer at 22 -> 20 again */
	const uint8_t own_run[] = { 2, 1, 'x', 0xc0, 20 };
	len = with_owner(wire, own_run, sizeof(own_run));
	assert_int_equal(parse(wire, len, NULL), TERN_EMALFORMED);

	/* into its own run, off the label boundaries: "\3\1q\0" then a pointer
	 * to 20, which reads "\1q\0". No loop, yet refused: a pointer must
	 * land before the run that holds it, not merely before itself. */
	const uint8_t misaligned[] = { 3, 1, 'q', 0, 0xc0, 20 };
	len = with_owner(wire, misaligned, sizeof(misaligned));
	assert_int_equal(parse(wire, len, NULL), TERN_EMALFORMED);

	/* the same owner pointing at the question is fine */
	const uint8_t good[] = { 1, 'x', 0xc0, 12 };
	len = with_owner(wire, good, sizeof(good));
	assert_int_equal(parse(wire, len, NULL), 0);
}

static void test_wire_rejects_pointer_into_header(void **state)
{
	uint8_t wire[128];
	const uint8_t owner[] = { 0xc0, 5 };
	size_t len = with_owner(wire, owner, sizeof(owner));
	assert_int_equal(parse(wire, len, NULL), TERN_EMALFORMED);
}

static void test_wire_rejects_pointer_loop(void **state)
{
	/* 12: "\1a" then a pointer to 16; 16: a pointer back to 12. The first
	 * hop goes forward, so it is refused before any loop can run. */
	uint8_t loop[] = {
		0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		1, 'a', 0xc0, 16, 0xc0, 12, 0, 1, 0, 1,
	};
	size_t pos = 12;
	uint8_t out[NAME_MAX_WIRE];
	assert_int_equal(name_unpack(loop, sizeof(loop), &pos, out), TERN_EMALFORMED);
	assert_int_equal(parse(loop, sizeof(loop), NULL), TERN_EMALFORMED);

	/* Entered from the back: 16 -> 12 is backwards, then 14 -> 16 is not. */
	pos = 16;
	assert_int_equal(name_unpack(loop, sizeof(loop), &pos, out), TERN_EMALFORMED);

	/* A three-step cycle entered at its end: 20 -> 16 -> 12 each go
	 * backwards; 12 -> 20 closes the loop and is refused. */
	uint8_t cycle[24] = { 0 };
	const uint8_t labels[] = { 1, 'a', 0xc0, 20, 1, 'b', 0xc0, 12, 1, 'c', 0xc0, 16 };
	memcpy(cycle + 12, labels, sizeof(labels));
	pos = 20;
	assert_int_equal(name_unpack(cycle, sizeof(cycle), &pos, out), TERN_EMALFORMED);
}

static void test_wire_bounds_pointer_hops(void **state)
{
	/* 12: the root; 13, 15, 17...: each a pointer to the one before. Every
	 * hop goes backwards, so only the hop count stops a long chain. */
	uint8_t wire[12 + 1 + 2 * 200] = { 0 };
	uint8_t out[NAME_MAX_WIRE];
	for (int k = 0; k < 200; k++) {
		unsigned target = k == 0 ? 12 : 13 + 2 * (unsigned)(k - 1);
		wire[13 + 2 * k] = (uint8_t)(0xc0 | target >> 8);
		wire[13 + 2 * k + 1] = (uint8_t)target;
	}
	/* the pointer at 13 + 2k starts a chain of k + 1 hops */
	size_t pos = 13 + 2 * 126;
	assert_int_equal(name_unpack(wire, sizeof(wire), &pos, out), 1);
	assert_int_equal(pos, 13 + 2 * 126 + 2);
	pos = 13 + 2 * 127;
	assert_int_equal(name_unpack(wire, sizeof(wire), &pos, out), TERN_EMALFORMED);
}

static void test_wire_rejects_label_over_63(void **state)
{
	/* a length byte of 64..191 is not a length but a label type (0x40, 0x80) */
	const uint8_t types[] = { 0x40, 0x41, 0x7f, 0x80, 0xbf };
	for (size_t i = 0; i < sizeof(types); i++) {
		uint8_t wire[128], owner[70];
		owner[0] = types[i];
		memset(owner + 1, 'x', 64);
		owner[65] = 0;
		size_t len = with_owner(wire, owner, 66);
		assert_int_equal(parse(wire, len, NULL), TERN_EMALFORMED);
	}
	/* 63 is fine */
	uint8_t wire[128], owner[70];
	owner[0] = 63;
	memset(owner + 1, 'x', 63);
	owner[64] = 0;
	size_t len = with_owner(wire, owner, 65);
	assert_int_equal(parse(wire, len, NULL), 0);
}

static void test_wire_rejects_name_over_255(void **state)
{
	uint8_t name[300];
	size_t n = 0;
	/* 63+63+63+61 chars: 4 * 1 + 250 + 1 = 255 bytes, the largest name */
	const int labels[] = { 63, 63, 63, 61 };
	for (int i = 0; i < 4; i++) {
		name[n++] = (uint8_t)labels[i];
		memset(name + n, 'a' + i, (size_t)labels[i]);
		n += (size_t)labels[i];
	}
	name[n++] = 0;
	assert_int_equal(n, 255);

	uint8_t wire[600], out[NAME_MAX_WIRE];
	size_t len = with_owner(wire, name, n);
	assert_int_equal(parse(wire, len, NULL), 0);
	size_t pos = 19;
	assert_int_equal(name_unpack(wire, len, &pos, out), 255);
	assert_int_equal(pos, 19 + 255);
	assert_memory_equal(out, name, 255);

	/* one more byte in the last label: 256 */
	name[192] = 62;
	memset(name + 193, 'd', 62);
	name[255] = 0;
	len = with_owner(wire, name, 257);
	assert_int_equal(parse(wire, len, NULL), TERN_EMALFORMED);

	/* over 255 only once decompressed: a 64-byte label in front of a
	 * 193-byte name that sits earlier in the message */
	uint8_t msg[600] = { 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0 };
	size_t p = 12;
	for (int i = 0; i < 3; i++) {
		msg[p++] = 63;
		memset(msg + p, 'q', 63);
		p += 63;
	}
	msg[p++] = 0;
	msg[p++] = 0, msg[p++] = 1, msg[p++] = 0, msg[p++] = 1;
	size_t owner_at = p;
	msg[p++] = 63;
	memset(msg + p, 'o', 63);
	p += 63;
	msg[p++] = 0xc0, msg[p++] = 12;
	const uint8_t tail[] = { 0, 1, 0, 1, 0, 0, 0, 60, 0, 0 };
	memcpy(msg + p, tail, sizeof(tail));
	p += sizeof(tail);
	assert_int_equal(parse(msg, p, NULL), TERN_EMALFORMED);
	pos = owner_at;
	assert_int_equal(name_unpack(msg, p, &pos, out), TERN_EMALFORMED);
}

static void test_wire_name_unpack_advances_past_first_pointer(void **state)
{
	uint8_t out[NAME_MAX_WIRE];
	size_t pos = 81; /* ns1.example.com. as "-> 75 -> 16" */
	assert_int_equal(name_unpack(response, sizeof(response), &pos, out), 17);
	assert_int_equal(pos, 83);
	assert_true(name_equal(out, N("ns1.example.com.")));
	/* case is preserved */
	assert_memory_equal(out, "\3ns1\7example\3com", 17);

	pos = 12;
	assert_int_equal(name_unpack(response, sizeof(response), &pos, out), 17);
	assert_int_equal(pos, 29);

	/* running off the end of the buffer */
	pos = 12;
	assert_int_equal(name_unpack(response, 20, &pos, out), TERN_EMALFORMED);
	pos = 12;
	assert_int_equal(name_unpack(response, 12, &pos, out), TERN_EMALFORMED);
	/* half a pointer */
	pos = 33;
	assert_int_equal(name_unpack(response, 34, &pos, out), TERN_EMALFORMED);
}

static void test_wire_rejects_duplicate_opt(void **state)
{
	uint8_t q[] = {
		0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2,
		0, 0, 1, 0, 1,
		0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
	};
	const char *why = NULL;
	assert_int_equal(parse(q, sizeof(q), &why), TERN_EMALFORMED);
	assert_string_equal(why, "duplicate opt");
	q[11] = 1; /* one OPT: fine, once the second is gone */
	assert_int_equal(parse(q, sizeof(q) - 11, &why), 0);
}

static void test_wire_rejects_opt_in_answer(void **state)
{
	uint8_t q[] = {
		0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0,
		0, 0, 1, 0, 1,
		0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
	};
	const char *why = NULL;
	assert_int_equal(parse(q, sizeof(q), &why), TERN_EMALFORMED);
	assert_string_equal(why, "opt outside additional");
	q[7] = 0, q[9] = 1; /* authority: no better */
	assert_int_equal(parse(q, sizeof(q), &why), TERN_EMALFORMED);
	q[9] = 0, q[11] = 1;
	assert_int_equal(parse(q, sizeof(q), &why), 0);
}

static void test_wire_rejects_opt_with_non_root_owner(void **state)
{
	uint8_t q[] = {
		0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
		1, 'a', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
	};
	const char *why = NULL;
	assert_int_equal(parse(q, sizeof(q), &why), TERN_EMALFORMED);
	assert_string_equal(why, "opt owner not root");
	/* the root, compressed to the question's root byte, is still the root */
	q[20] = 14;
	assert_int_equal(parse(q, sizeof(q), &why), 0);
}

static void test_wire_rejects_malformed_opt_options(void **state)
{
	uint8_t q[] = {
		0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
		0, 0, 1, 0, 1,
		0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 6,
		0, 10, 0, 3, 1, 2, /* says 3 bytes, has 2 */
	};
	const char *why = NULL;
	assert_int_equal(parse(q, sizeof(q), &why), TERN_EMALFORMED);
	assert_string_equal(why, "opt options");
	q[31] = 2;
	assert_int_equal(parse(q, sizeof(q), &why), 0);
}

static void test_wire_rejects_trailing_garbage(void **state)
{
	uint8_t buf[sizeof(response) + 1];
	memcpy(buf, response, sizeof(response));
	buf[sizeof(response)] = 0;
	const char *why = NULL;
	assert_int_equal(parse(buf, sizeof(buf), &why), TERN_EMALFORMED);
	assert_string_equal(why, "trailing bytes");
	/* or an ARCOUNT that misses a record */
	buf[11] = 1;
	assert_int_equal(parse(buf, sizeof(response), &why), TERN_EMALFORMED);
	assert_string_equal(why, "trailing bytes");
}

static void test_wire_rejects_rdlength_past_end(void **state)
{
	const char *why = NULL;
	/* the OPT RDATA claims 12 bytes; cut the last one */
	assert_int_equal(parse(response, sizeof(response) - 1, &why), TERN_EMALFORMED);
	assert_string_equal(why, "rdlength");
	uint8_t buf[sizeof(response)];
	memcpy(buf, response, sizeof(response));
	buf[57] = 0xff; /* the A record's RDLENGTH */
	assert_int_equal(parse(buf, sizeof(buf), &why), TERN_EMALFORMED);
	assert_string_equal(why, "rdlength");
}

static void test_wire_rejects_truncated_rr(void **state)
{
	const char *why = NULL;
	/* an owner and half the fixed fields of the first answer */
	assert_int_equal(parse(response, 40, &why), TERN_EMALFORMED);
	assert_string_equal(why, "rr truncated");
	/* a count that promises more records than there are */
	uint8_t buf[sizeof(response)];
	memcpy(buf, response, sizeof(response));
	buf[7] = 0xff;
	assert_int_equal(parse(buf, sizeof(buf), &why), TERN_EMALFORMED);
}

/* nope.example.com. NXDOMAIN with the zone's SOA; "example.com." is at 17 */
static const uint8_t nxdomain[] = {
	0xbe, 0xef, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	4, 'n', 'o', 'p', 'e', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
	/* 34: example.com. 3600 SOA ns.example.com. hostmaster.example.com. ... */
	0xc0, 0x11, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 38,
	2, 'n', 's', 0xc0, 0x11,
	10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r', 0xc0, 0x11,
	0x78, 0x49, 0x5e, 0x01, 0x00, 0x00, 0x1c, 0x20, 0x00, 0x00, 0x0e, 0x10,
	0x00, 0x12, 0x75, 0x00, 0x00, 0x00, 0x0e, 0x10,
};

static void first_rr(struct msg *m, enum section s, struct rr_view *rr)
{
	struct rr_iter it;
	rr_iter_init(m, &it, s);
	assert_true(rr_next(m, &it, rr));
}

static void test_wire_unpacks_soa_with_compressed_names(void **state)
{
	struct msg m;
	struct rr_view rr;
	assert_int_equal(msg_parse(&m, nxdomain, sizeof(nxdomain), NULL), 0);
	assert_int_equal(FLAGS_RCODE(m.hdr.flags), RCODE_NXDOMAIN);
	first_rr(&m, SEC_AUTHORITY, &rr);
	assert_int_equal(rr.type, TYPE_SOA);

	uint8_t out[600], want[600];
	size_t n = 0;
	memcpy(want + n, N("ns.example.com"), 16), n += 16;
	memcpy(want + n, N("hostmaster.example.com"), 24), n += 24;
	memcpy(want + n, nxdomain + sizeof(nxdomain) - 20, 20), n += 20;
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), (int)n);
	assert_memory_equal(out, want, n);

	/* too small for the expanded form; exact fit works */
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, n - 1), TERN_ESPACE);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, n), (int)n);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, 10), TERN_ESPACE);
}

static void test_wire_rejects_soa_with_short_fixed_fields(void **state)
{
	uint8_t buf[sizeof(nxdomain)];
	memcpy(buf, nxdomain, sizeof(buf));
	buf[45] = 37; /* RDLENGTH one short: 19 bytes of numbers */
	struct msg m;
	struct rr_view rr;
	assert_int_equal(msg_parse(&m, buf, sizeof(buf) - 1, NULL), 0);
	first_rr(&m, SEC_AUTHORITY, &rr);
	uint8_t out[600];
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), TERN_EMALFORMED);
}

static void test_wire_unpacks_mx_and_ns_with_compressed_names(void **state)
{
	const uint8_t wire[] = {
		0, 7, 0x84, 0, 0, 1, 0, 2, 0, 0, 0, 0,
		/* 12: example.com. MX IN */
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 15, 0, 1,
		/* 29: example.com. MX 10 mail.example.com. */
		0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 0, 0, 9,
		0, 10, 4, 'm', 'a', 'i', 'l', 0xc0, 12,
		/* 50: example.com. NS mail.example.com. (-> the MX's exchange at 43) */
		0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 0, 0, 2, 0xc0, 43,
	};
	struct msg m;
	struct rr_iter it;
	struct rr_view rr;
	uint8_t out[300];
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	rr_iter_init(&m, &it, SEC_ANSWER);

	assert_true(rr_next(&m, &it, &rr));
	assert_int_equal(rr.type, TYPE_MX);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), 2 + 18);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 10);
	assert_memory_equal(out + 2, N("mail.example.com"), 18);

	assert_true(rr_next(&m, &it, &rr));
	assert_int_equal(rr.type, TYPE_NS);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), 18);
	assert_memory_equal(out, N("mail.example.com"), 18);
	assert_false(rr_next(&m, &it, &rr));
}

static void test_wire_rdata_names_must_fill_rdlength(void **state)
{
	/* NS RDATA: a 3-byte name plus one stray byte */
	uint8_t wire[] = {
		0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 4, 1, 'x', 0, 0xff,
	};
	struct msg m;
	struct rr_view rr;
	uint8_t out[300];
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), TERN_EMALFORMED);

	/* a name that runs past its RDATA into the next bytes */
	uint8_t over[] = {
		0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 1,
		0, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'x', /* CNAME RDATA "\1x" */
		0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,     /* the OPT's root byte */
	};
	assert_int_equal(msg_parse(&m, over, sizeof(over), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), TERN_EMALFORMED);

	/* MX with one byte: not even the preference */
	uint8_t mx[] = {
		0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		0, 0, 15, 0, 1, 0, 0, 0, 0, 0, 1, 0,
	};
	assert_int_equal(msg_parse(&m, mx, sizeof(mx), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), TERN_EMALFORMED);
}

static void test_wire_rdata_checks_a_and_aaaa_lengths(void **state)
{
	uint8_t wire[] = {
		0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5,
	};
	struct msg m;
	struct rr_view rr;
	uint8_t out[64];
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), TERN_EMALFORMED);

	wire[14] = 28; /* AAAA, 5 bytes */
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), TERN_EMALFORMED);

	/* Class CH: an A record is a name and an address there (RFC 1035
	 * 3.4.2); not ours to judge, copied as is. */
	wire[14] = 1, wire[16] = 3;
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), 5);
	wire[14] = 28;
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), 5);

	/* the A record of the real response */
	assert_int_equal(msg_parse(&m, response, sizeof(response), NULL), 0);
	struct rr_iter it;
	rr_iter_init(&m, &it, SEC_ANSWER);
	assert_true(rr_next(&m, &it, &rr));
	assert_true(rr_next(&m, &it, &rr));
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), 4);
	assert_memory_equal(out, "\x5d\xb8\xd8\x22", 4);
}

static void test_wire_rdata_copies_other_types_verbatim(void **state)
{
	/* SRV may not be compressed (RFC 2782): a c0 byte in it is just a byte */
	const uint8_t wire[] = {
		0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		0, 0, 33, 0, 1, 0, 0, 0, 0, 0, 8,
		0, 1, 0, 2, 0, 53, 0xc0, 12,
	};
	struct msg m;
	struct rr_view rr;
	uint8_t out[64];
	assert_int_equal(msg_parse(&m, wire, sizeof(wire), NULL), 0);
	first_rr(&m, SEC_ANSWER, &rr);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, sizeof(out)), 8);
	assert_memory_equal(out, wire + sizeof(wire) - 8, 8);
	assert_int_equal(rr_rdata_unpack(&m, &rr, out, 7), TERN_ESPACE);
}

static void test_wire_builder_round_trips_through_parse(void **state)
{
	uint8_t buf[512];
	struct msg_builder b;
	mb_init(&b, buf, sizeof(buf), 0xcafe, FLAG_RD);
	mb_set_flags(&b, FLAG_QR | FLAG_RD | FLAG_RA | RCODE_NOERROR);
	assert_int_equal(mb_question(&b, N("www.Example.com"), TYPE_A, CLASS_IN), 0);
	const uint8_t *target = N("example.com");
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("www.example.com"), TYPE_CNAME, CLASS_IN, 300,
			       target, (uint16_t)name_len(target)), 0);
	const uint8_t a[4] = { 192, 0, 2, 7 };
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("example.com"), TYPE_A, CLASS_IN, 300, a, 4), 0);
	const uint8_t *ns = N("ns.example.net");
	assert_int_equal(mb_rr(&b, SEC_AUTHORITY, N("example.com"), TYPE_NS, CLASS_IN, 3600, ns,
			       (uint16_t)name_len(ns)), 0);
	assert_int_equal(mb_rr(&b, SEC_ADDITIONAL, ns, TYPE_A, CLASS_IN, 3600, a, 4), 0);
	const uint8_t opts[] = { 0, 15, 0, 2, 0, 18 }; /* EDE 18: prohibited */
	assert_int_equal(mb_opt(&b, 1232, 0, EDNS_FLAG_DO, opts, sizeof(opts)), 0);
	size_t len = mb_finish(&b);

	struct msg m;
	const char *why = NULL;
	assert_int_equal(msg_parse(&m, buf, len, &why), 0);
	assert_int_equal(m.hdr.id, 0xcafe);
	assert_int_equal(m.hdr.flags, FLAG_QR | FLAG_RD | FLAG_RA);
	assert_memory_equal(m.qname, "\3www\7Example\3com", 17); /* case kept */
	assert_int_equal(m.qtype, TYPE_A);
	assert_int_equal(m.count[SEC_ANSWER], 2);
	assert_int_equal(m.count[SEC_AUTHORITY], 1);
	assert_int_equal(m.count[SEC_ADDITIONAL], 2);
	assert_true(m.has_opt);
	assert_int_equal(m.edns_udp_size, 1232);
	assert_int_equal(m.edns_flags, EDNS_FLAG_DO);
	assert_int_equal(m.edns_version, 0);
	uint16_t pos = 0, code, olen;
	const uint8_t *data;
	assert_true(edns_next_option(&m, &pos, &code, &data, &olen));
	assert_int_equal(code, EDNS_OPT_EDE);
	assert_int_equal(olen, 2);
	assert_int_equal(data[1], 18);

	struct rr_iter it;
	struct rr_view rr;
	uint8_t owner[NAME_MAX_WIRE], rd[300];
	rr_iter_init(&m, &it, SEC_ANSWER);
	assert_true(rr_next(&m, &it, &rr));
	assert_int_equal(rr_owner(&m, &rr, owner), 17);
	assert_true(name_equal(owner, N("www.example.com")));
	assert_int_equal(rr_rdata_unpack(&m, &rr, rd, sizeof(rd)), 13);
	assert_true(name_equal(rd, target));
	assert_true(rr_next(&m, &it, &rr));
	assert_int_equal(rr_owner(&m, &rr, owner), 13);
	assert_true(name_equal(owner, target));
	assert_int_equal(rr.ttl, 300);
	assert_int_equal(rr_rdata_unpack(&m, &rr, rd, sizeof(rd)), 4);
	assert_memory_equal(rd, a, 4);
	rr_iter_init(&m, &it, SEC_ADDITIONAL);
	assert_true(rr_next(&m, &it, &rr));
	assert_int_equal(rr_owner(&m, &rr, owner), 16);
	assert_true(name_equal(owner, ns));
}

static void test_wire_builder_compresses_owner_names(void **state)
{
	uint8_t buf[512];
	struct msg_builder b;
	const uint8_t a[4] = { 10, 0, 0, 1 };
	mb_init(&b, buf, sizeof(buf), 1, 0);
	assert_int_equal(mb_question(&b, N("www.example.com"), TYPE_A, CLASS_IN), 0);
	assert_int_equal(b.pos, 33);

	/* same name, other case: a bare pointer to the question */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("WWW.EXAMPLE.COM"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_memory_equal(buf + 33, "\xc0\x0c", 2);
	/* a suffix of the question: a pointer into it */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("example.com"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_memory_equal(buf + 49, "\xc0\x10", 2);
	/* a new label on a known suffix: the label, then a pointer */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("ftp.example.com"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_memory_equal(buf + 65, "\3ftp\xc0\x10", 6);
	/* and one below that: points at the ftp owner, itself compressed */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("a.ftp.example.com"), TYPE_A, CLASS_IN, 1, a, 4),
			 0);
	assert_memory_equal(buf + 85, "\1a\xc0\x41", 4);
	/* nothing in common: written whole */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("example.org"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_memory_equal(buf + 103, "\7example\3org\0", 13);
	/* the root owner is one byte, never a pointer */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("."), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_int_equal(buf[130], 0);
	assert_int_equal(buf[131], 0);

	size_t len = mb_finish(&b);
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, len, NULL), 0);
	const char *owners[] = { "www.example.com", "example.com", "ftp.example.com",
				 "a.ftp.example.com", "example.org", "." };
	struct rr_iter it;
	struct rr_view rr;
	uint8_t owner[NAME_MAX_WIRE];
	rr_iter_init(&m, &it, SEC_ANSWER);
	for (int i = 0; i < 6; i++) {
		assert_true(rr_next(&m, &it, &rr));
		assert_true(rr_owner(&m, &rr, owner) > 0);
		assert_true(name_equal(owner, N(owners[i])));
	}
	assert_false(rr_next(&m, &it, &rr));
}

static void test_wire_builder_never_points_past_0x3fff(void **state)
{
	static uint8_t buf[65535], blob[0x4000];
	struct msg_builder b;
	mb_init(&b, buf, sizeof(buf), 1, 0);
	assert_int_equal(mb_question(&b, N("example"), TYPE_TXT, CLASS_IN), 0);
	/* push the write position past the 14-bit pointer range */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("big.example"), TYPE_TXT, CLASS_IN, 1, blob,
			       sizeof(blob)), 0);
	assert_true(b.pos > 0x3fff);
	size_t x1 = b.pos;
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("x.example"), TYPE_A, CLASS_IN, 1, blob, 4), 0);
	assert_memory_equal(buf + x1, "\1x\xc0\x0c", 4);
	/* "x.example" at x1 is out of reach: the second one cannot use it */
	size_t x2 = b.pos;
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("x.example"), TYPE_A, CLASS_IN, 1, blob, 4), 0);
	assert_memory_equal(buf + x2, "\1x\xc0\x0c", 4);
	/* but the big one's owner, still below 0x4000, is used */
	size_t x3 = b.pos;
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("big.example"), TYPE_A, CLASS_IN, 1, blob, 4), 0);
	assert_memory_equal(buf + x3, "\xc0\x19", 2);
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, mb_finish(&b), NULL), 0);
}

static void test_wire_builder_remembers_at_most_compress_max_names(void **state)
{
	static uint8_t buf[8192];
	struct msg_builder b;
	char text[32];
	mb_init(&b, buf, sizeof(buf), 1, 0);
	for (int i = 0; i < MB_COMPRESS_MAX + 8; i++) {
		snprintf(text, sizeof(text), "n%d.example", i);
		assert_int_equal(mb_rr(&b, SEC_ANSWER, N(text), TYPE_A, CLASS_IN, 1,
				       (const uint8_t *)"abcd", 4), 0);
	}
	assert_int_equal(b.n_names, MB_COMPRESS_MAX);
	size_t len = mb_finish(&b);
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, len, NULL), 0);
	assert_int_equal(m.count[SEC_ANSWER], MB_COMPRESS_MAX + 8);
	struct rr_iter it;
	struct rr_view rr;
	uint8_t owner[NAME_MAX_WIRE];
	rr_iter_init(&m, &it, SEC_ANSWER);
	for (int i = 0; rr_next(&m, &it, &rr); i++) {
		snprintf(text, sizeof(text), "n%d.example", i);
		assert_true(rr_owner(&m, &rr, owner) > 0);
		assert_true(name_equal(owner, N(text)));
	}
}

static void test_wire_builder_rolls_back_on_espace(void **state)
{
	uint8_t buf[64];
	const uint8_t a[4] = { 10, 0, 0, 1 };
	const uint8_t big[40] = { 0 };
	struct msg_builder b;
	mb_init(&b, buf, sizeof(buf), 9, FLAG_QR);
	assert_int_equal(mb_question(&b, N("example.com"), TYPE_A, CLASS_IN), 0); /* 12 + 17 */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("example.com"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	size_t pos = b.pos; /* 45 */
	uint8_t before[64];
	memcpy(before, buf, sizeof(buf));

	/* 2 + 10 + 40 bytes do not fit in 19 */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("example.com"), TYPE_TXT, CLASS_IN, 1, big, 40),
			 TERN_ESPACE);
	/* a new name that only fits half-way is not half written */
	assert_int_equal(mb_rr(&b, SEC_ADDITIONAL, N("a-long-name.example.net"), TYPE_A, CLASS_IN,
			       1, a, 4), TERN_ESPACE);
	assert_int_equal(b.pos, pos);
	assert_int_equal(b.count[SEC_ANSWER], 1);
	assert_int_equal(b.count[SEC_ADDITIONAL], 0);
	assert_int_equal(b.section, SEC_ANSWER); /* failed adds do not move on */
	assert_int_equal(b.n_names, 1);
	assert_memory_equal(buf, before, sizeof(buf));
	assert_int_equal(mb_opt(&b, 1232, 0, 0, big, 10), TERN_ESPACE);

	/* what still fits goes in: 2 + 10 + 4 = 16 of 19 */
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("EXAMPLE.com"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	/* and exactly to the last byte: OPT with no options is 11 */
	assert_int_equal(mb_opt(&b, 1232, 0, 0, NULL, 0), TERN_ESPACE);
	size_t len = mb_finish(&b);
	assert_int_equal(len, 61);
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, len, NULL), 0);
	assert_int_equal(m.count[SEC_ANSWER], 2);

	uint8_t exact[12 + 17 + 11];
	mb_init(&b, exact, sizeof(exact), 9, 0);
	assert_int_equal(mb_question(&b, N("example.com"), TYPE_A, CLASS_IN), 0);
	assert_int_equal(mb_opt(&b, 1232, 0, 0, NULL, 0), 0);
	assert_int_equal(mb_finish(&b), sizeof(exact));
	assert_int_equal(msg_parse(&m, exact, sizeof(exact), NULL), 0);
	assert_true(m.has_opt);

	/* no room for the question at all */
	uint8_t tiny[DNS_HDR_LEN + 4];
	mb_init(&b, tiny, sizeof(tiny), 9, 0);
	assert_int_equal(mb_question(&b, N("example.com"), TYPE_A, CLASS_IN), TERN_ESPACE);
	assert_int_equal(mb_finish(&b), DNS_HDR_LEN);
	assert_int_equal(msg_parse(&m, tiny, DNS_HDR_LEN, NULL), 0);
}

static void test_wire_builder_sections_only_move_forward(void **state)
{
	uint8_t buf[512];
	const uint8_t a[4] = { 10, 0, 0, 1 };
	struct msg_builder b;
	mb_init(&b, buf, sizeof(buf), 1, 0);
	assert_int_equal(mb_rr(&b, SEC_AUTHORITY, N("a"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_int_equal(mb_rr(&b, SEC_ANSWER, N("a"), TYPE_A, CLASS_IN, 1, a, 4),
			 TERN_EMALFORMED);
	assert_int_equal(mb_rr(&b, SEC_QUESTION, N("a"), TYPE_A, CLASS_IN, 1, a, 4),
			 TERN_EMALFORMED);
	assert_int_equal(mb_question(&b, N("a"), TYPE_A, CLASS_IN), TERN_EMALFORMED);
	assert_int_equal(mb_rr(&b, SEC_AUTHORITY, N("a"), TYPE_A, CLASS_IN, 1, a, 4), 0);
	assert_int_equal(mb_opt(&b, 512, 0, 0, NULL, 0), 0);
	assert_int_equal(mb_rr(&b, SEC_AUTHORITY, N("a"), TYPE_A, CLASS_IN, 1, a, 4),
			 TERN_EMALFORMED);
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, mb_finish(&b), NULL), 0);
	assert_int_equal(m.count[SEC_AUTHORITY], 2);
	assert_int_equal(m.count[SEC_ADDITIONAL], 1);
}

static void test_wire_builder_rejects_second_question(void **state)
{
	uint8_t buf[512];
	struct msg_builder b;
	mb_init(&b, buf, sizeof(buf), 1, 0);
	assert_int_equal(mb_question(&b, N("a"), TYPE_A, CLASS_IN), 0);
	assert_int_equal(mb_question(&b, N("b"), TYPE_A, CLASS_IN), TERN_EMALFORMED);
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, mb_finish(&b), NULL), 0);
	assert_int_equal(m.hdr.qdcount, 1);
}

static void test_wire_builder_rejects_invalid_names(void **state)
{
	uint8_t buf[512];
	struct msg_builder b;
	uint8_t bad[5 * 64];
	mb_init(&b, buf, sizeof(buf), 1, 0);
	bad[0] = 64; /* a label type, not a length */
	memset(bad + 1, 'x', 64);
	bad[65] = 0;
	assert_int_equal(mb_question(&b, bad, TYPE_A, CLASS_IN), TERN_EMALFORMED);
	/* 5 labels of 63: no root byte within 255 */
	for (int i = 0; i < 5; i++) {
		bad[i * 64] = 63;
		memset(bad + i * 64 + 1, 'y', 63);
	}
	assert_int_equal(mb_rr(&b, SEC_ANSWER, bad, TYPE_A, CLASS_IN, 1, NULL, 0),
			 TERN_EMALFORMED);
	assert_int_equal(b.pos, DNS_HDR_LEN);
}

static void test_wire_builder_writes_opt_fields(void **state)
{
	uint8_t buf[512];
	struct msg_builder b;
	mb_init(&b, buf, sizeof(buf), 1, FLAG_QR | RCODE_NOERROR);
	/* BADVERS (16): the upper 8 bits of the 12-bit rcode go in the OPT */
	assert_int_equal(mb_opt(&b, 4096, RCODE_BADVERS >> 4, 0, NULL, 0), 0);
	size_t len = mb_finish(&b);
	assert_int_equal(len, DNS_HDR_LEN + MB_OPT_SIZE(0));
	const uint8_t want[] = { 0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0 };
	assert_memory_equal(buf + DNS_HDR_LEN, want, sizeof(want));
	struct msg m;
	assert_int_equal(msg_parse(&m, buf, len, NULL), 0);
	assert_int_equal(m.edns_ext_rcode, 1);
	assert_int_equal(m.edns_udp_size, 4096);
}

static void test_wire_name_from_text_handles_root_and_trailing_dot(void **state)
{
	uint8_t out[NAME_MAX_WIRE];
	assert_int_equal(name_from_text(".", out), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(name_from_text("example.com.", out), 13);
	assert_memory_equal(out, "\7example\3com", 13);
	assert_int_equal(name_from_text("example.com", out), 13);
	assert_memory_equal(out, "\7example\3com", 13);
	assert_int_equal(name_from_text("a", out), 3);
	assert_memory_equal(out, "\1a", 3);
}

static void test_wire_name_from_text_handles_escapes(void **state)
{
	uint8_t out[NAME_MAX_WIRE];
	assert_int_equal(name_from_text("a\\.b.c", out), 7);
	assert_memory_equal(out, "\3a.b\1c", 7);
	assert_int_equal(name_from_text("\\000\\255\\\\x.", out), 6);
	assert_memory_equal(out, "\4\0\xff\\x", 6);
	assert_int_equal(name_from_text("\\065", out), 3);
	assert_memory_equal(out, "\1A", 3);
	assert_int_equal(name_from_text("\\256", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text("\\12", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text("\\1x3", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text("abc\\", out), TERN_EMALFORMED);
	/* an escaped dot alone is a label, not the root */
	assert_int_equal(name_from_text("\\.", out), 3);
	assert_memory_equal(out, "\1.", 3);
}

static void test_wire_name_from_text_rejects_empty_labels(void **state)
{
	uint8_t out[NAME_MAX_WIRE];
	assert_int_equal(name_from_text("", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text("..", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text(".com", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text("a..com", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text("a.com..", out), TERN_EMALFORMED);
	assert_int_equal(name_from_text(NULL, out), TERN_EMALFORMED);
}

static void test_wire_name_from_text_rejects_long_labels_and_names(void **state)
{
	uint8_t out[NAME_MAX_WIRE];
	char text[400];
	memset(text, 'x', 63);
	text[63] = '\0';
	assert_int_equal(name_from_text(text, out), 65);
	memset(text, 'x', 64);
	text[64] = '\0';
	assert_int_equal(name_from_text(text, out), TERN_EMALFORMED);

	/* 63.63.63.61 is 255 bytes in wire form; 63.63.63.62 is 256 */
	char *t = text;
	const int labels[] = { 63, 63, 63, 61 };
	for (int i = 0; i < 4; i++) {
		memset(t, 'a' + i, (size_t)labels[i]);
		t += labels[i];
		*t++ = '.';
	}
	*t = '\0';
	assert_int_equal(name_from_text(text, out), 255);
	t[-1] = 'd';
	*t++ = '.';
	*t = '\0';
	assert_int_equal(name_from_text(text, out), TERN_EMALFORMED);
	/* 128 one-letter labels: 257 bytes */
	t = text;
	for (int i = 0; i < 128; i++) {
		*t++ = 'z';
		*t++ = '.';
	}
	*t = '\0';
	assert_int_equal(name_from_text(text, out), TERN_EMALFORMED);
	text[2 * 127] = '\0'; /* 127 labels: 255 bytes */
	assert_int_equal(name_from_text(text, out), 255);
	assert_int_equal(name_labels(out), 127);
}

static void test_wire_name_to_text_escapes_specials(void **state)
{
	char text[NAME_MAX_WIRE * 4 + 1];
	assert_int_equal(name_to_text(N("."), text, sizeof(text)), 1);
	assert_string_equal(text, ".");
	assert_int_equal(name_to_text(N("www.Example.com"), text, sizeof(text)), 16);
	assert_string_equal(text, "www.Example.com.");
	const uint8_t odd[] = { 6, 'a', '.', '\\', ' ', 0x00, 0xc8, 2, ';', '(', 0 };
	assert_true(name_to_text(odd, text, sizeof(text)) > 0);
	assert_string_equal(text, "a\\.\\\\\\032\\000\\200.\\;\\(.");
	/* and the escapes read back to the same name */
	uint8_t back[NAME_MAX_WIRE];
	assert_int_equal(name_from_text(text, back), (int)sizeof(odd));
	assert_memory_equal(back, odd, sizeof(odd));
}

static void test_wire_name_to_text_reports_espace(void **state)
{
	char text[16];
	/* "example.com." needs 12 characters and the NUL */
	assert_int_equal(name_to_text(N("example.com"), text, 13), 12);
	assert_int_equal(name_to_text(N("example.com"), text, 12), TERN_ESPACE);
	assert_int_equal(name_to_text(N("."), text, 1), TERN_ESPACE);
	assert_int_equal(name_to_text(N("."), text, 0), TERN_ESPACE);
	const uint8_t ctl[] = { 1, 0x01, 0 };
	assert_int_equal(name_to_text(ctl, text, 5), TERN_ESPACE);
	assert_int_equal(name_to_text(ctl, text, 6), 5);
	assert_string_equal(text, "\\001.");
}

static void test_wire_name_compare_is_canonical_order(void **state)
{
	/* RFC 4034 6.1, in order */
	const uint8_t *names[9];
	uint8_t store[9][NAME_MAX_WIRE];
	const char *texts[] = {
		"example", "a.example", "yljkjljk.a.example", "Z.a.example", "zABC.a.EXAMPLE",
		"z.example", "\\001.z.example", "*.z.example", "\\200.z.example",
	};
	for (int i = 0; i < 9; i++) {
		assert_true(name_from_text(texts[i], store[i]) > 0);
		names[i] = store[i];
	}
	for (int i = 0; i < 9; i++) {
		for (int j = 0; j < 9; j++) {
			int c = name_compare(names[i], names[j]);
			if (i < j)
				assert_true(c < 0);
			else if (i > j)
				assert_true(c > 0);
			else
				assert_int_equal(c, 0);
		}
	}
	assert_int_equal(name_compare(N("EXAMPLE.com"), N("example.COM")), 0);
	assert_true(name_compare(N("."), N("com")) < 0);
	assert_true(name_compare(N("com"), N(".")) > 0);
	/* a label that is a prefix of another sorts first */
	assert_true(name_compare(N("ab.com"), N("abc.com")) < 0);
}

static void test_wire_name_helpers_agree(void **state)
{
	uint8_t www[NAME_MAX_WIRE];
	memcpy(www, N("www.Example.COM"), 17);
	assert_int_equal(name_len(www), 17);
	assert_int_equal(name_len(N(".")), 1);
	assert_int_equal(name_labels(www), 3);
	assert_int_equal(name_labels(N(".")), 0);
	assert_true(name_equal(www, N("WWW.example.com.")));
	assert_false(name_equal(www, N("www.example.co")));
	assert_false(name_equal(www, N("ww.example.com")));
	assert_false(name_equal(N("example.com"), N("www.example.com")));

	assert_ptr_equal(name_parent(www), www + 4);
	assert_ptr_equal(name_parent(www + 16), NULL);
	assert_ptr_equal(name_suffix(www, 3), www);
	assert_ptr_equal(name_suffix(www, 2), www + 4);
	assert_ptr_equal(name_suffix(www, 0), www + 16);

	assert_true(name_is_under(www, N("example.com")));
	assert_true(name_is_under(www, N("www.example.com")));
	assert_true(name_is_under(www, N(".")));
	assert_false(name_is_under(N("example.com"), www));
	assert_false(name_is_under(www, N("ample.com")));
	assert_false(name_is_under(N("wwwexample.com"), N("example.com")));

	uint8_t low[NAME_MAX_WIRE];
	memcpy(low, www, 17);
	name_lower(low);
	assert_memory_equal(low, "\3www\7example\3com", 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_reader_latches_first_error),
		cmocka_unit_test(test_wire_parses_response_with_compression),
		cmocka_unit_test(test_wire_iterates_edns_options),
		cmocka_unit_test(test_wire_accepts_message_without_question),
		cmocka_unit_test(test_wire_rejects_short_header),
		cmocka_unit_test(test_wire_rejects_message_over_65535),
		cmocka_unit_test(test_wire_rejects_truncated_question),
		cmocka_unit_test(test_wire_rejects_two_questions),
		cmocka_unit_test(test_wire_rejects_forward_pointer),
		cmocka_unit_test(test_wire_rejects_pointer_into_header),
		cmocka_unit_test(test_wire_rejects_pointer_loop),
		cmocka_unit_test(test_wire_bounds_pointer_hops),
		cmocka_unit_test(test_wire_rejects_label_over_63),
		cmocka_unit_test(test_wire_rejects_name_over_255),
		cmocka_unit_test(test_wire_name_unpack_advances_past_first_pointer),
		cmocka_unit_test(test_wire_rejects_duplicate_opt),
		cmocka_unit_test(test_wire_rejects_opt_in_answer),
		cmocka_unit_test(test_wire_rejects_opt_with_non_root_owner),
		cmocka_unit_test(test_wire_rejects_malformed_opt_options),
		cmocka_unit_test(test_wire_rejects_trailing_garbage),
		cmocka_unit_test(test_wire_rejects_rdlength_past_end),
		cmocka_unit_test(test_wire_rejects_truncated_rr),
		cmocka_unit_test(test_wire_unpacks_soa_with_compressed_names),
		cmocka_unit_test(test_wire_rejects_soa_with_short_fixed_fields),
		cmocka_unit_test(test_wire_unpacks_mx_and_ns_with_compressed_names),
		cmocka_unit_test(test_wire_rdata_names_must_fill_rdlength),
		cmocka_unit_test(test_wire_rdata_checks_a_and_aaaa_lengths),
		cmocka_unit_test(test_wire_rdata_copies_other_types_verbatim),
		cmocka_unit_test(test_wire_builder_round_trips_through_parse),
		cmocka_unit_test(test_wire_builder_compresses_owner_names),
		cmocka_unit_test(test_wire_builder_never_points_past_0x3fff),
		cmocka_unit_test(test_wire_builder_remembers_at_most_compress_max_names),
		cmocka_unit_test(test_wire_builder_rolls_back_on_espace),
		cmocka_unit_test(test_wire_builder_sections_only_move_forward),
		cmocka_unit_test(test_wire_builder_rejects_second_question),
		cmocka_unit_test(test_wire_builder_rejects_invalid_names),
		cmocka_unit_test(test_wire_builder_writes_opt_fields),
		cmocka_unit_test(test_wire_name_from_text_handles_root_and_trailing_dot),
		cmocka_unit_test(test_wire_name_from_text_handles_escapes),
		cmocka_unit_test(test_wire_name_from_text_rejects_empty_labels),
		cmocka_unit_test(test_wire_name_from_text_rejects_long_labels_and_names),
		cmocka_unit_test(test_wire_name_to_text_escapes_specials),
		cmocka_unit_test(test_wire_name_to_text_reports_espace),
		cmocka_unit_test(test_wire_name_compare_is_canonical_order),
		cmocka_unit_test(test_wire_name_helpers_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
