/* tests for proto/proxy2: the PROXY protocol v2 header, fed whole and byte by
 * byte; IPv4, IPv6, LOCAL, TLVs skipped within bounds, and every malformed kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "proto/proxy2.h"

static const uint8_t SIG[12] = "\r\n\r\n\0\r\nQUIT\n";

/* a header: ver_cmd, fam, then @body of @blen bytes (the length field is blen) */
static size_t make(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t blen)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

/* feed whole, then byte by byte: both must agree; returns the state, *used the bytes taken */
static enum proxy2_state run(struct proxy2 *p, const uint8_t *in, size_t len, size_t *used)
{
	proxy2_init(p);
	size_t whole = proxy2_feed(p, in, len);
	enum proxy2_state st = p->state;
	struct proxy2 q;
	proxy2_init(&q);
	size_t n = 0;
	while (n < len && q.state == PROXY2_MORE)
		n += proxy2_feed(&q, in + n, 1);
	assert_int_equal(q.state, st);
	assert_int_equal(n, whole);
	assert_int_equal(q.has_src, p->has_src);
	*used = whole;
	return st;
}

static void test_ipv4_with_tlvs_and_payload(void **state)
{
	uint8_t body[64], in[128];
	/* 198.51.100.7:5353 -> 192.0.2.1:80, then a 4-byte ALPN TLV and an empty one */
	static const uint8_t addr[12] = { 198, 51, 100, 7, 192, 0, 2, 1, 0x14, 0xe9, 0, 80 };
	memcpy(body, addr, 12);
	memcpy(body + 12, "\x01\x00\x04" "h2h2" "\x04\x00\x00", 10);
	size_t n = make(in, 0x21, 0x11, body, 22);
	memcpy(in + n, "GET / HTTP/1.1\r\n", 16);
	struct proxy2 p;
	size_t used;
	assert_int_equal(run(&p, in, n + 16, &used), PROXY2_DONE);
	assert_int_equal(used, n);
	assert_true(p.has_src);
	assert_false(p.local);
	const struct sockaddr_in *s = (const struct sockaddr_in *)&p.src;
	assert_int_equal(s->sin_family, AF_INET);
	assert_int_equal(p.src_len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohl(s->sin_addr.s_addr), 0xc6336407);
	assert_int_equal(ntohs(s->sin_port), 5353);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&p.dst)->sin_port), 80);
}

static void test_ipv6(void **state)
{
	uint8_t body[36], in[64];
	memset(body, 0, sizeof(body));
	inet_pton(AF_INET6, "2001:db8::7", body);
	inet_pton(AF_INET6, "2001:db8::1", body + 16);
	body[32] = 0x30, body[33] = 0x39, body[35] = 80;
	size_t n = make(in, 0x21, 0x21, body, 36);
	struct proxy2 p;
	size_t used;
	assert_int_equal(run(&p, in, n, &used), PROXY2_DONE);
	assert_int_equal(used, n);
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&p.src;
	assert_int_equal(s->sin6_family, AF_INET6);
	assert_memory_equal(&s->sin6_addr, body, 16);
	assert_int_equal(ntohs(s->sin6_port), 12345);
}

static void test_local_and_unspec(void **state)
{
	uint8_t body[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 }, in[64];
	struct proxy2 p;
	size_t used;
	/* LOCAL: the address block is read but not the client's */
	size_t n = make(in, 0x20, 0x11, body, 12);
	assert_int_equal(run(&p, in, n, &used), PROXY2_DONE);
	assert_true(p.local);
	assert_false(p.has_src);
	/* LOCAL, UNSPEC, no body (a health check) */
	n = make(in, 0x20, 0x00, NULL, 0);
	assert_int_equal(run(&p, in, n, &used), PROXY2_DONE);
	assert_int_equal(used, 16);
	assert_false(p.has_src);
	/* PROXY, UNSPEC with a TLV: done, no address */
	n = make(in, 0x21, 0x00, (const uint8_t *)"\xe0\x00\x01x", 4);
	assert_int_equal(run(&p, in, n, &used), PROXY2_DONE);
	assert_false(p.has_src);
}

static void test_not_proxy(void **state)
{
	static const uint8_t get[] = "GET /dns-query HTTP/1.1\r\n";
	struct proxy2 p;
	size_t used;
	assert_int_equal(run(&p, get, sizeof(get) - 1, &used), PROXY2_NONE);
	assert_int_equal(used, 1);
	assert_int_equal(p.have, 1);
	assert_int_equal(p.buf[0], 'G');
	static const uint8_t pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	assert_int_equal(run(&p, pri, sizeof(pri) - 1, &used), PROXY2_NONE);
	/* the signature cut at the 7th byte */
	uint8_t in[16];
	memcpy(in, SIG, 12);
	in[6] = 'x';
	assert_int_equal(run(&p, in, 12, &used), PROXY2_NONE);
	assert_int_equal(used, 7);
	assert_memory_equal(p.buf, in, 7);
	/* v1 (text) is not v2 */
	static const uint8_t v1[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	assert_int_equal(run(&p, v1, sizeof(v1) - 1, &used), PROXY2_NONE);
}

static void test_malformed(void **state)
{
	uint8_t body[64], in[128];
	struct proxy2 p;
	size_t used;
	memset(body, 0, sizeof(body));
	/* version 1 in the binary form, command 2, unknown family */
	assert_int_equal(run(&p, in, make(in, 0x11, 0x11, body, 12), &used), PROXY2_BAD);
	assert_int_equal(run(&p, in, make(in, 0x22, 0x11, body, 12), &used), PROXY2_BAD);
	assert_int_equal(run(&p, in, make(in, 0x21, 0x41, body, 12), &used), PROXY2_BAD);
	/* PROXY over UDP or AF_UNIX: not for a TCP service */
	assert_int_equal(run(&p, in, make(in, 0x21, 0x12, body, 12), &used), PROXY2_BAD);
	assert_int_equal(run(&p, in, make(in, 0x21, 0x31, body, 12), &used), PROXY2_BAD);
	/* a length shorter than the address block */
	assert_int_equal(run(&p, in, make(in, 0x21, 0x11, body, 11), &used), PROXY2_BAD);
	assert_int_equal(run(&p, in, make(in, 0x21, 0x21, body, 12), &used), PROXY2_BAD);
	/* a TLV running past the header */
	memcpy(body + 12, "\x01\x00\x05" "ab", 5);
	assert_int_equal(run(&p, in, make(in, 0x21, 0x11, body, 17), &used), PROXY2_BAD);
	/* a cut TLV header */
	memcpy(body + 12, "\x01\x00", 2);
	assert_int_equal(run(&p, in, make(in, 0x21, 0x11, body, 14), &used), PROXY2_BAD);
	/* truncated input: more, never done */
	size_t n = make(in, 0x21, 0x11, body, 12);
	for (size_t k = 0; k < n; k++) {
		proxy2_init(&p);
		assert_int_equal(proxy2_feed(&p, in, k), k);
		assert_int_equal(p.state, PROXY2_MORE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_with_tlvs_and_payload),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_local_and_unspec),
		cmocka_unit_test(test_not_proxy),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
