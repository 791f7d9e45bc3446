/* tests for cache/key: the key order is the DNSSEC canonical order (RFC 4034 6.1),
 * a zone's subtree is one key range, names are case-insensitive, bad names are
 * refused; the DB keys' spaces, the label-prefix helpers that the zone-cut
 * search and the shard choice use; and cache/hash against the reference
 * vectors of SipHash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/hash.h"
#include "cache/key.h"
#include "base/err.h"

#include <stdlib.h>

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

/* The encoding as FORMAT: cache-key says, a byte at a time: the reference
 * for the word-at-a-time key_encode(). */
static int reference_key(uint8_t out[KEY_MAX], const uint8_t *name, uint16_t type)
{
	const uint8_t *labels[128];
	int n = 0;
	for (const uint8_t *p = name; *p; p += 1 + *p)
		labels[n++] = p;
	int w = 0;
	while (n-- > 0) {
		for (int i = 1; i <= labels[n][0]; i++) {
			uint8_t c = labels[n][i];
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c + 32);
			if (c <= 1) {
				out[w++] = 1;
				c = (uint8_t)(c + 1);
			}
			out[w++] = c;
		}
		out[w++] = 0;
	}
	out[w++] = 0;
	out[w++] = (uint8_t)(type >> 8);
	out[w++] = (uint8_t)type;
	return w;
}

static void test_key_encode_agrees_with_bytewise_reference(void **state)
{
	static const uint8_t alphabet[] = "abcXYZ-09_\x00\x01\x02\x7f\x80\xff@[`{AZaz";
	srand(42);
	for (int round = 0; round < 20000; round++) {
		uint8_t name[256];
		size_t w = 0;
		int n_labels = rand() % 6;
		for (int l = 0; l < n_labels; l++) {
			int len = 1 + rand() % (round % 3 == 0 ? 63 : 12);
			if (w + 1 + (size_t)len + 1 > 255)
				break;
			name[w++] = (uint8_t)len;
			for (int i = 0; i < len; i++)
				name[w++] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		}
		name[w] = 0;
		uint8_t got[KEY_MAX], want[KEY_MAX];
		int len = key_encode(got, name, 0x1234);
		assert_int_equal(len, reference_key(want, name, 0x1234));
		assert_memory_equal(got, want, (size_t)len);
	}
}

static void test_key_locate_puts_ns_in_the_space_of_cuts(void **state)
{
	uint8_t name[256], key[KEY_DB_MAX], enc[KEY_MAX];
	size_t domain_len;
	uint16_t type;
	wire(name, "www.Example.com.");

	int len = key_locate(key, name, 28, &domain_len);
	int enc_len = key_encode(enc, name, 28);
	assert_int_equal(len, 1 + enc_len);
	assert_int_equal(key[0], KEY_SPACE_RRSETS);
	assert_memory_equal(key + 1, enc, (size_t)enc_len);
	assert_true(key_type(key, (size_t)len, &type));
	assert_int_equal(type, 28);
	assert_int_equal(domain_len, key_domain_len(key + 1, (size_t)len - 1));
	assert_int_equal(domain_len, 12); /* "com\0example\0" */

	len = key_locate(key, name, KEY_TYPE_NS, &domain_len);
	enc_len = key_prefix(enc, name, false);
	assert_int_equal(len, 1 + enc_len);
	assert_int_equal(key[0], KEY_SPACE_CUTS);
	assert_memory_equal(key + 1, enc, (size_t)enc_len);
	assert_true(key_type(key, (size_t)len, &type));
	assert_int_equal(type, KEY_TYPE_NS);
	assert_int_equal(domain_len, 12);

	/* the shard's records are no entries */
	assert_false(key_type((const uint8_t *)"\0format", 7, &type));
	assert_false(key_type((const uint8_t *)"\2a", 2, &type));
	/* the root and a TLD hash on what they have */
	key_locate(key, (wire(name, "."), name), 1, &domain_len);
	assert_int_equal(domain_len, 0);
	key_locate(key, (wire(name, "com."), name), 1, &domain_len);
	assert_int_equal(domain_len, 4);
	/* an escaped label counts escapes too */
	const uint8_t odd[] = { 1, 0, 3, 'c', 'o', 'm', 0 };
	len = key_locate(key, odd, 1, &domain_len);
	assert_int_equal(domain_len, key_domain_len(key + 1, (size_t)len - 1));
	assert_int_equal(domain_len, 7); /* "com\0" "\1\1\0" */
}

static void test_key_label_prefix_helpers(void **state)
{
	uint8_t name[256], a[KEY_MAX], b[KEY_MAX];
	int a_len = key_prefix(a, (wire(name, "www.sub.example.com."), name), true);
	assert_int_equal(key_depth(a, (size_t)a_len), 4);
	assert_int_equal(key_depth(a, 0), 0);
	/* parents, one label at a time */
	size_t p = key_parent_len(a, (size_t)a_len);
	int b_len = key_prefix(b, (wire(name, "sub.example.com."), name), true);
	assert_int_equal(p, (size_t)b_len);
	assert_memory_equal(a, b, p);
	p = key_parent_len(a, key_parent_len(a, p));
	assert_int_equal(p, 4); /* "com\0" */
	assert_int_equal(key_parent_len(a, p), 0);
	/* the closest common ancestor is a whole label, not a common byte prefix */
	b_len = key_prefix(b, (wire(name, "www.sub.examplf.com."), name), true);
	assert_int_equal(key_common_len(a, (size_t)a_len, b, (size_t)b_len), 4);
	b_len = key_prefix(b, (wire(name, "x.example.com."), name), true);
	assert_int_equal(key_common_len(a, (size_t)a_len, b, (size_t)b_len), 12);
	b_len = key_prefix(b, (wire(name, "example.com."), name), true);
	assert_int_equal(key_common_len(a, (size_t)a_len, b, (size_t)b_len), (size_t)b_len);
	assert_int_equal(key_common_len(b, (size_t)b_len, a, (size_t)a_len), (size_t)b_len);
	b_len = key_prefix(b, (wire(name, "org."), name), true);
	assert_int_equal(key_common_len(a, (size_t)a_len, b, (size_t)b_len), 0);
	/* the shard's part: the first two labels */
	assert_int_equal(key_domain_len(a, (size_t)a_len), 12);
	assert_int_equal(key_domain_len(b, (size_t)b_len), 4);
	assert_int_equal(key_domain_len(b, 0), 0);
}

static void test_hash_sip_matches_reference_vectors(void **state)
{
	/* SipHash-2-4 (Aumasson and Bernstein, vectors.h): key 00..0f,
	 * message 00..(n-1); SipHash-1-3 from the same construction */
	static const struct {
		size_t len;
		uint64_t sip24, sip13;
	} vectors[] = {
		{ 0, 0x726fdb47dd0e0e31ULL, 0xabac0158050fc4dcULL },
		{ 1, 0x74f839c593dc67fdULL, 0xc9f49bf37d57ca93ULL },
		{ 7, 0xab0200f58b01d137ULL, 0xd3927d989bb11140ULL },
		{ 8, 0x93f5f5799a932462ULL, 0x369095118d299a8eULL },
		{ 15, 0xa129ca6149be45e5ULL, 0xd320d86d2a519956ULL },
		{ 16, 0x3f2acc7f57c29bdbULL, 0xcc4fdd1a7d908b66ULL },
		{ 17, 0x699ae9f52cbe4794ULL, 0x9cf2689063dbd80cULL },
	};
	uint8_t key[HASH_KEY_LEN], msg[32];
	for (int i = 0; i < HASH_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 32; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_true(hash_sip(key, msg, vectors[i].len, 2, 4) == vectors[i].sip24);
		assert_true(hash_sip(key, msg, vectors[i].len, 1, 3) == vectors[i].sip13);
	}
	/* the quick hash depends on its seed, the length and every byte */
	uint64_t h = hash_fast(1, msg, 17);
	assert_true(h != hash_fast(2, msg, 17));
	assert_true(h != hash_fast(1, msg, 16));
	for (int i = 0; i < 17; i++) {
		msg[i] ^= 0x20;
		assert_true(h != hash_fast(1, msg, 17));
		msg[i] ^= 0x20;
	}
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
		cmocka_unit_test(test_key_encode_agrees_with_bytewise_reference),
		cmocka_unit_test(test_key_locate_puts_ns_in_the_space_of_cuts),
		cmocka_unit_test(test_key_label_prefix_helpers),
		cmocka_unit_test(test_hash_sip_matches_reference_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
