/* tests for resolver/fastpath's parse pass: which queries it takes, and the
 * lowercased, zero-padded name words that key the memo (loaded a word at a
 * time, the last one cut at the name's end, never read past the query). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver/config.h"
#include "resolver/fastpath.h"
#include "resolver/worker.h"

#include <stdlib.h>
#include <string.h>

static struct config cfg = { .edns_udp_size = 1232 };
static struct worker w = { .cfg = &cfg };

/* parse @len bytes from a buffer of exactly that size (ASan sees any overread) */
static void parse(const uint8_t *q, size_t len, struct fp_query *fq)
{
	uint8_t *exact = malloc(len);
	assert_non_null(exact);
	memcpy(exact, q, len);
	fastpath_parse(&w, exact, len, fq);
	free(exact);
}

static void test_fastpath_name_words_are_the_lowercased_name(void **state)
{
	(void)state;
	srand(6);
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t q[600] = { 0 };
		size_t pos = 12;
		q[5] = 1;
		int n_labels = rand() % 5 + 1;
		for (int l = 0; l < n_labels; l++) {
			int len = rand() % 13 + 1;
			q[pos++] = (uint8_t)len;
			for (int k = 0; k < len; k++)
				q[pos++] = (uint8_t)(rand() % 2 ? 'A' + rand() % 26 : rand() % 256);
		}
		q[pos++] = 0;
		size_t name_len = pos - 12;
		q[pos++] = 0, q[pos++] = 1, q[pos++] = 0, q[pos++] = 1; /* A IN */
		if (rand() % 2) { /* an OPT: 1232, no flags, no options */
			static const uint8_t opt[11] = { 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0 };
			memcpy(q + pos, opt, sizeof(opt));
			q[11] = 1;
			pos += sizeof(opt);
		}
		struct fp_query fq;
		parse(q, pos, &fq);
		assert_true(fq.plain);
		assert_int_equal(fq.name_len, name_len);
		assert_int_equal(fq.qtype, 1);
		uint8_t want[256] = { 0 };
		for (size_t i = 0; i < name_len; i++) {
			uint8_t c = q[12 + i];
			want[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
		assert_memory_equal(want, fq.lname, (name_len + 7) / 8 * 8);
		/* the same name in another case: the same words and tag */
		struct fp_query lower;
		memcpy(q + 12, want, name_len);
		parse(q, pos, &lower);
		assert_memory_equal(lower.lname, fq.lname, sizeof(fq.lname[0]) * ((name_len + 7) / 8));
		assert_true(lower.tag == fq.tag);
	}
}

static void test_fastpath_leaves_what_is_not_plain_to_the_full_path(void **state)
{
	(void)state;
	/* www.example.com A IN, then variations */
	static const uint8_t base[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
					3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
					3, 'c', 'o', 'm', 0, 0, 1, 0, 1 };
	struct fp_query fq;
	uint8_t q[64];
	parse(base, sizeof(base), &fq);
	assert_true(fq.plain);
	memcpy(q, base, sizeof(base));
	q[2] |= 0x80; /* a response */
	parse(q, sizeof(base), &fq);
	assert_false(fq.plain);
	memcpy(q, base, sizeof(base));
	q[12] = 0xc0; /* compressed */
	parse(q, sizeof(base), &fq);
	assert_false(fq.plain);
	memcpy(q, base, sizeof(base));
	q[sizeof(base)] = 0; /* a trailing byte */
	parse(q, sizeof(base) + 1, &fq);
	assert_false(fq.plain);
	parse(base, sizeof(base) - 1, &fq); /* cut short */
	assert_false(fq.plain);
	memcpy(q, base, sizeof(base));
	q[sizeof(base) - 1] = 3; /* class CH */
	parse(q, sizeof(base), &fq);
	assert_false(fq.plain);
	/* with an OPT that sets DO: RRSIGs go along, the full path adds them */
	static const uint8_t opt_do[11] = { 0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0 };
	memcpy(q, base, sizeof(base));
	memcpy(q + sizeof(base), opt_do, sizeof(opt_do));
	q[11] = 1;
	parse(q, sizeof(base) + sizeof(opt_do), &fq);
	assert_false(fq.plain);
	q[sizeof(base) + 7] = 0; /* DO off */
	parse(q, sizeof(base) + sizeof(opt_do), &fq);
	assert_true(fq.plain);
	assert_int_equal(fq.reply_max, 1232);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fastpath_name_words_are_the_lowercased_name),
		cmocka_unit_test(test_fastpath_leaves_what_is_not_plain_to_the_full_path),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	fastpath_free(&w);
	return rc;
}
