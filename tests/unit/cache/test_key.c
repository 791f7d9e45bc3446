/* tests for cache/key: the key order is the DNSSEC canonical order (RFC 4034 6.1),
 * a zone's subtree is one key range, names are case-insensitive, bad names are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/key.h"
#include "base/err.h"

/* "www.example.com." -> wire form; "\NNN" is a decimal byte; "." is the root. */
static int wire(uint8_t out[256], const char *text)
{
	size_t w = 0;
	while (*text && strcmp(text, ".") != 0) {
		size_t len_at = w++;
		while (*text && *text != '.') {
			if (*text == '\\') {
				int byte = (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
				out[w++] = (uint8_t)byte;
				text += 4;
			} else {
				out[w++] = (uint8_t)*text++;
			}
		}
		out[len_at] = (uint8_t)(w - len_at - 1);
		if (*text == '.')
			text++;
	}
	out[w++] = 0;
	return (int)w;
}

struct key {
	uint8_t b[KEY_MAX];
	int len;
};

static struct key key_of(const char *text, uint16_t type)
{
	uint8_t name[256];
	struct key k;
	wire(name, text);
	k.len = key_encode(k.b, name, type);
	assert_true(k.len > 0);
	return k;
}

static int key_cmp(const struct key *a, const struct key *b)
{
	int len = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->b, b->b, (size_t)len);
	return c ? c : a->len - b->len;
}

static bool has_prefix(const struct key *k, const uint8_t *prefix, int len)
{
	return k->len >= len && memcmp(k->b, prefix, (size_t)len) == 0;
}

static void test_key_sorts_in_rfc4034_canonical_order(void **state)
{
	/* the example list of RFC 4034 6.1, in its order */
	static const char *const names[] = {
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.",
		"\\200.z.example.",
	};
	for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
		struct key a = key_of(names[i - 1], 1), b = key_of(names[i], 1);
		assert_true(key_cmp(&a, &b) < 0);
	}
}

static void test_key_sorts_label_bytes_0_and_1_in_order(void **state)
{
	struct key k0 = key_of("\\000.example.", 1);
	struct key k00 = key_of("\\000\\000.example.", 1);
	struct key k01 = key_of("\\000\\001.example.", 1);
	struct key k1 = key_of("\\001.example.", 1);
	struct key k2 = key_of("\\002.example.", 1);
	assert_true(key_cmp(&k0, &k00) < 0);
	assert_true(key_cmp(&k00, &k01) < 0);
	assert_true(key_cmp(&k01, &k1) < 0);
	assert_true(key_cmp(&k1, &k2) < 0);
}

static void test_key_ignores_ascii_case(void **state)
{
	struct key a = key_of("WWW.Example.COM.", 28), b = key_of("www.example.com.", 28);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.b, b.b, (size_t)a.len);
}

static void test_key_differs_by_type(void **state)
{
	struct key a = key_of("example.com.", 1), aaaa = key_of("example.com.", 28);
	assert_true(key_cmp(&a, &aaaa) < 0);
}

static void test_key_subtree_prefix_covers_zone_and_descendants_only(void **state)
{
	uint8_t zone[256], prefix[KEY_MAX], own[KEY_MAX];
	wire(zone, "example.com.");
	int plen = key_prefix(prefix, zone, true);
	int olen = key_prefix(own, zone, false);
	assert_true(plen > 0 && olen > plen);

	static const char *const inside[] = { "example.com.", "www.example.com.", "a.b.example.com.",
					      "\\000.example.com.", "\\255.example.com." };
	static const char *const outside[] = { "com.", "xexample.com.", "example.org.", "examplf.com.",
					       "www.examplecom.", "exampl.com." };
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		struct key k = key_of(inside[i], 0xffff);
		assert_true(has_prefix(&k, prefix, plen));
	}
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		struct key k = key_of(outside[i], 1);
		assert_false(has_prefix(&k, prefix, plen));
	}
	/* the zone's own entries, whatever their type, sort before its subtree */
	struct key zone_max = key_of("example.com.", 0xffff), child = key_of("\\000.example.com.", 0);
	assert_true(has_prefix(&zone_max, own, olen));
	assert_false(has_prefix(&child, own, olen));
	assert_true(key_cmp(&zone_max, &child) < 0);
}

static void test_key_root_subtree_prefix_is_empty(void **state)
{
	uint8_t root[1] = { 0 }, prefix[KEY_MAX];
	assert_int_equal(key_prefix(prefix, root, true), 0);
	assert_int_equal(key_prefix(prefix, root, false), 1);
	struct key r = key_of(".", 2), com = key_of("com.", 2);
	assert_int_equal(r.len, 3);
	assert_true(key_cmp(&r, &com) < 0);
}

static void test_key_longest_name_fits(void **state)
{
	/* 4 labels (63, 63, 63, 61) of byte 0: every byte escaped; 255 bytes of wire */
	uint8_t name[256], key[KEY_MAX];
	size_t w = 0;
	static const uint8_t lens[] = { 63, 63, 63, 61 };
	for (int i = 0; i < 4; i++) {
		name[w++] = lens[i];
		memset(name + w, 0, lens[i]);
		w += lens[i];
	}
	name[w++] = 0;
	assert_int_equal(w, 255);
	assert_int_equal(key_name_len(name, KEY_NAME_MAX), 255);
	assert_int_equal(key_encode(key, name, 1), KEY_MAX);
}

static void test_key_refuses_malformed_names(void **state)
{
	uint8_t name[300], key[KEY_MAX];
	/* a compression pointer */
	const uint8_t ptr[] = { 3, 'w', 'w', 'w', 0xc0, 12 };
	assert_int_equal(key_encode(key, ptr, 1), TERN_EMALFORMED);
	/* a 64-byte label */
	name[0] = 64;
	memset(name + 1, 'a', 64);
	name[65] = 0;
	assert_int_equal(key_encode(key, name, 1), TERN_EMALFORMED);
	/* 257 bytes: 4 labels of 63 and the root */
	size_t w = 0;
	for (int i = 0; i < 4; i++) {
		name[w++] = 63;
		memset(name + w, 'a', 63);
		w += 63;
	}
	name[w++] = 0;
	assert_int_equal(w, 257);
	assert_int_equal(key_encode(key, name, 1), TERN_EMALFORMED);
	assert_int_equal(key_prefix(key, name, true), TERN_EMALFORMED);
	/* not terminated within the bytes available */
	const uint8_t cut[] = { 3, 'c', 'o', 'm', 0 };
	assert_int_equal(key_name_len(cut, 4), TERN_EMALFORMED);
	assert_int_equal(key_name_len(cut, 5), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_sorts_in_rfc4034_canonical_order),
		cmocka_unit_test(test_key_sorts_label_bytes_0_and_1_in_order),
		cmocka_unit_test(test_key_ignores_ascii_case),
		cmocka_unit_test(test_key_differs_by_type),
		cmocka_unit_test(test_key_subtree_prefix_covers_zone_and_descendants_only),
		cmocka_unit_test(test_key_root_subtree_prefix_is_empty),
		cmocka_unit_test(test_key_longest_name_fits),
		cmocka_unit_test(test_key_refuses_malformed_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
