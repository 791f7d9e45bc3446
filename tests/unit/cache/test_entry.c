/* tests for cache/entry (FORMAT: cache-entry): every field, the verdict's
 * reason (why) included, comes back from a round trip exactly; a reason goes
 * only with an insecure or bogus verdict; an entry of an older format, or
 * with a field out of range, is refused, never misread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/entry.h"
#include "base/err.h"

/* one A record (u16 rdlen, 4 bytes), then one fake RRSIG of 18 bytes */
static const uint8_t A_SIGNED[] = { 0, 4, 192, 0, 2, 1, 0, 18, 0, 1, 8, 2, 0, 0, 14, 16, 0, 0,
				    0, 0, 0, 0, 0, 0, 0x12, 0x34 };
/* SOA owner "t.", u16 rdlen 22, SOA RDATA: root MNAME and RNAME, five u32 */
static const uint8_t SOA_NEG[] = { 1, 't', 0, 0, 22, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
				   0, 0, 0, 4, 0, 0, 0, 5 };

static void round_trip(uint16_t type, const struct cache_entry *in)
{
	uint8_t buf[ENTRY_HDR_LEN + 256];
	size_t len = entry_size(in);
	assert_true(len <= sizeof(buf));
	assert_true(entry_fields_ok(type, in->kind, in->rank, in->verdict, in->why));
	entry_encode(buf, in, 1234567890123ULL);
	assert_int_equal(buf[0], CACHE_FORMAT);
	struct cache_entry out;
	uint64_t expire_at_s = 0;
	assert_int_equal(cache_entry_decode(buf, len, type, &out, &expire_at_s), 0);
	assert_int_equal(expire_at_s, 1234567890123ULL);
	assert_int_equal(out.kind, in->kind);
	assert_int_equal(out.rank, in->rank);
	assert_int_equal(out.verdict, in->verdict);
	assert_int_equal(out.why, in->why);
	assert_int_equal(out.orig_ttl_s, in->ttl_s);
	assert_int_equal(out.n_rdata, in->n_rdata);
	assert_int_equal(out.n_sigs, in->n_sigs);
	assert_int_equal(out.data_len, in->data_len);
	if (in->data_len)
		assert_memory_equal(out.data, in->data, in->data_len);
	else
		assert_null(out.data);
}

static void test_entry_round_trip_keeps_verdict_and_reason(void **state)
{
	(void)state;
	struct cache_entry e = {
		.kind = CACHE_RRSET, .rank = RANK_ANSWER, .ttl_s = 3600, .n_rdata = 1,
		.n_sigs = 1, .data = A_SIGNED, .data_len = sizeof(A_SIGNED),
	};
	for (uint8_t v = VERDICT_NONE; v <= VERDICT_INDETERMINATE; v++) {
		e.verdict = v;
		e.why = 0;
		round_trip(1, &e);
		if (v != VERDICT_INSECURE && v != VERDICT_BOGUS)
			continue;
		for (unsigned why = 1; why <= CACHE_WHY_MAX; why++) {
			e.why = (uint8_t)why;
			round_trip(1, &e);
		}
	}
	/* negative entries: NODATA under its type, NXDOMAIN under type 0, and empty */
	struct cache_entry n = {
		.kind = CACHE_NODATA, .rank = RANK_ANSWER, .verdict = VERDICT_INSECURE, .why = 10,
		.ttl_s = 300, .data = SOA_NEG, .data_len = sizeof(SOA_NEG),
	};
	round_trip(15, &n);
	n.kind = CACHE_NXDOMAIN;
	n.why = 8;
	round_trip(CACHE_TYPE_NXDOMAIN, &n);
	n.verdict = VERDICT_BOGUS;
	n.why = 2;
	round_trip(CACHE_TYPE_NXDOMAIN, &n);
	n.data = NULL;
	n.data_len = 0;
	n.verdict = VERDICT_SECURE;
	n.why = 0;
	round_trip(CACHE_TYPE_NXDOMAIN, &n);
}

static void test_entry_reason_only_with_insecure_or_bogus(void **state)
{
	(void)state;
	assert_true(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_INSECURE, 8));
	assert_true(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_BOGUS, CACHE_WHY_MAX));
	assert_false(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_SECURE, 8));
	assert_false(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_NONE, 1));
	assert_false(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_INDETERMINATE, 1));
	assert_false(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_INSECURE,
				     CACHE_WHY_MAX + 1));
	assert_false(entry_fields_ok(1, CACHE_RRSET, RANK_ANSWER, VERDICT_INDETERMINATE + 1, 0));
}

static void test_entry_refuses_other_formats_and_bad_verdict_bytes(void **state)
{
	(void)state;
	struct cache_entry e = {
		.kind = CACHE_RRSET, .rank = RANK_ANSWER, .verdict = VERDICT_INSECURE, .why = 8,
		.ttl_s = 60, .n_rdata = 1, .n_sigs = 1, .data = A_SIGNED, .data_len = sizeof(A_SIGNED),
	};
	uint8_t buf[ENTRY_HDR_LEN + sizeof(A_SIGNED)];
	entry_encode(buf, &e, 99);
	struct cache_entry out;
	uint64_t exp;
	assert_int_equal(cache_entry_decode(buf, sizeof(buf), 1, &out, &exp), 0);
	/* FORMAT: cache-entry: the verdict's byte is verdict | why << 3 */
	assert_int_equal(buf[3], VERDICT_INSECURE | 8 << 3);
	/* an entry written before the reason was kept (format 3): refused */
	buf[0] = CACHE_FORMAT - 1;
	assert_int_equal(cache_entry_decode(buf, sizeof(buf), 1, &out, &exp), TERN_EMALFORMED);
	buf[0] = CACHE_FORMAT;
	/* every verdict byte decodes only if verdict and reason agree */
	for (unsigned b = 0; b < 256; b++) {
		buf[3] = (uint8_t)b;
		uint8_t v = b & 7, why = (uint8_t)(b >> 3);
		bool ok = v <= VERDICT_INDETERMINATE &&
			  (why == 0 || v == VERDICT_INSECURE || v == VERDICT_BOGUS);
		assert_int_equal(cache_entry_decode(buf, sizeof(buf), 1, &out, &exp) == 0, ok);
		if (ok) {
			assert_int_equal(out.verdict, v);
			assert_int_equal(out.why, why);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_round_trip_keeps_verdict_and_reason),
		cmocka_unit_test(test_entry_reason_only_with_insecure_or_bogus),
		cmocka_unit_test(test_entry_refuses_other_formats_and_bad_verdict_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
