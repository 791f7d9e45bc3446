/* tests for proto/base64url (RFC 4648 5, as RFC 8484 uses it) and the pure
 * DoH request parser proto/dohmsg: statuses for each kind of bad request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/base64url.h"
#include "proto/dohmsg.h"
#include "proto/wire.h"

static void test_round_trip_all_lengths(void **state)
{
	uint8_t in[64], out[64];
	char text[128];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 250);
	for (size_t n = 0; n <= sizeof(in); n++) {
		long t = base64url_encode(in, n, text, sizeof(text));
		assert_int_equal(t, BASE64URL_LEN(n));
		assert_null(strchr(text, '='));
		assert_null(strpbrk(text, "+/"));
		assert_int_equal(base64url_decode(text, (size_t)t, out, sizeof(out)), n);
		assert_memory_equal(in, out, n);
	}
}

static void test_rfc8484_example(void **state)
{
	/* RFC 8484 4.1.1: www.example.com A, ID 0 */
	static const char text[] = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";
	uint8_t out[64];
	long n = base64url_decode(text, strlen(text), out, sizeof(out));
	assert_int_equal(n, 33);
	assert_int_equal(out[5], 1); /* QDCOUNT 1 */
	assert_memory_equal(out + 12, "\x03www\x07" "example\x03" "com", 17);
}

static void test_rejects(void **state)
{
	uint8_t out[16];
	assert_int_equal(base64url_decode("A", 1, out, sizeof(out)), -1);      /* 1 mod 4 */
	assert_int_equal(base64url_decode("AB+/", 4, out, sizeof(out)), -1);   /* base64, not url */
	assert_int_equal(base64url_decode("AB C", 4, out, sizeof(out)), -1);
	assert_int_equal(base64url_decode("AQ", 2, out, sizeof(out)), 1);
	assert_int_equal(base64url_decode("AF", 2, out, sizeof(out)), -1);     /* stray low bits */
	assert_int_equal(base64url_decode("AAAAAAAAAAAAAAAAAAAAAAAA", 24, out, sizeof(out)), -1);
	assert_int_equal(base64url_decode("AA==", 4, out, sizeof(out)), 1);    /* padding tolerated */
}

static int status_of(const char *method, const char *path, const char *ctype, size_t body_len)
{
	static struct http_req r;
	static struct doh_query q;
	static uint8_t body[HTTP_BODY_MAX];
	memset(&r, 0, sizeof(r));
	r.method = http_method_from(method, strlen(method));
	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.content_type, sizeof(r.content_type), "%s", ctype ? ctype : "");
	r.body = body;
	r.body_len = body_len;
	return doh_parse(&r, "/dns-query", &q);
}

static void test_doh_statuses(void **state)
{
	const char *get = "/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";
	assert_int_equal(status_of("GET", get, NULL, 0), 200);
	assert_int_equal(status_of("HEAD", get, NULL, 0), 200);
	assert_int_equal(status_of("GET", "/dns-query?x=1&dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB", NULL, 0), 200);
	assert_int_equal(status_of("GET", "/elsewhere?dns=AAAA", NULL, 0), 404);
	assert_int_equal(status_of("GET", "/dns-queryX", NULL, 0), 404);
	assert_int_equal(status_of("GET", "/dns-query", NULL, 0), 400);
	assert_int_equal(status_of("GET", "/dns-query?dns=%%%", NULL, 0), 400);
	assert_int_equal(status_of("PUT", "/dns-query", NULL, 0), 405);
	assert_int_equal(status_of("POST", "/dns-query", "application/dns-message", 33), 200);
	assert_int_equal(status_of("POST", "/dns-query", "Application/DNS-Message; x=y", 33), 200);
	assert_int_equal(status_of("POST", "/dns-query", "text/plain", 33), 415);
	assert_int_equal(status_of("POST", "/dns-query", "application/dns-message", 5), 400);
	assert_int_equal(status_of("GET", "/dns-query?name=example.com&type=MX", NULL, 0), 200);
	assert_int_equal(status_of("GET", "/dns-query?name=example.com&type=65", NULL, 0), 200);
	assert_int_equal(status_of("GET", "/dns-query?name=ex%41mple.com", NULL, 0), 200);
	assert_int_equal(status_of("GET", "/dns-query?name=example.com&type=BOGUS", NULL, 0), 400);
	assert_int_equal(status_of("GET", "/dns-query?name=a%2", NULL, 0), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all_lengths),
		cmocka_unit_test(test_rfc8484_example),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_doh_statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
