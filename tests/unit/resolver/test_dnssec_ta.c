/* tests for resolver/trust_anchor: Debian's root anchors load and agree with
 * each other; zone-file syntax; errors that name the file and line and leave
 * the set as it was; the closest anchor; negative trust anchors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver/trust_anchor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "proto/wire.h"
#include "resolver/dnssec.h"
#include "test_dnssec_util.h"

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/tern-test-ta-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Load @text as a file; returns the result, the error text in @err. */
static int load_text(struct trust_anchors *ta, const char *text, char *err, size_t errlen)
{
	char *path = temp_file(text);
	int ret = trust_anchor_load(ta, path, err, errlen);
	/* error texts start with the path: make them comparable */
	if (ret != 0 && strncmp(err, path, strlen(path)) == 0) {
		char rest[256];
		snprintf(rest, sizeof(rest), "FILE%s", err + strlen(path));
		snprintf(err, errlen, "%s", rest);
	}
	unlink(path);
	free(path);
	return ret;
}

static void test_ta_debian_root_key_and_ds_load_and_match(void **state)
{
	(void)state;
	if (access(TRUST_ANCHOR_ROOT_KEY, R_OK) != 0 || access(TRUST_ANCHOR_ROOT_DS, R_OK) != 0)
		skip(); /* dns-root-data not installed */
	struct trust_anchors keys = { 0 }, ds = { 0 };
	char err[256] = "";
	assert_int_equal(trust_anchor_load(&keys, TRUST_ANCHOR_ROOT_KEY, err, sizeof(err)), 0);
	assert_int_equal(trust_anchor_load(&ds, TRUST_ANCHOR_ROOT_DS, err, sizeof(err)), 0);
	const struct trust_anchor *k = trust_anchor_find(&keys, (const uint8_t *)"\3www\7example\0");
	const struct trust_anchor *d = trust_anchor_find(&ds, (const uint8_t *)"\0");
	assert_non_null(k);
	assert_non_null(d);
	assert_int_equal(k->owner[0], 0);
	assert_true(k->dnskey.n_rdata >= 1);
	assert_true(d->ds.n_rdata >= 1);
	/* every root DS matches one of the root keys */
	uint32_t doff = 0;
	const uint8_t *drd;
	uint16_t dlen;
	while (rrset_rdata_next(&d->ds, &doff, &drd, &dlen)) {
		bool found = false;
		uint32_t koff = 0;
		const uint8_t *krd;
		uint16_t klen;
		while (rrset_rdata_next(&k->dnskey, &koff, &krd, &klen))
			found |= dnssec_ds_matches(k->owner, krd, klen, drd, dlen);
		assert_true(found);
	}
	trust_anchors_free(&keys);
	trust_anchors_free(&ds);
}

static void test_ta_reads_zone_file_syntax(void **state)
{
	(void)state;
	struct trust_anchors ta = { 0 };
	char err[256] = "";
	int ret = load_text(&ta,
			    "; a comment\n"
			    "$TTL 3600\n"
			    "$ORIGIN example.\n"
			    "@ IN DNSKEY 257 3 15 (\n"
			    "      l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4= ) ; key 3613\n"
			    "\n"
			    "sub IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b\n"
			    "Example. IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b\n",
			    err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_int_equal(ta.n_anchors, 2);
	const struct trust_anchor *a = trust_anchor_find(&ta, t_name("www.example."));
	assert_non_null(a);
	assert_true(name_equal(a->owner, t_name("example.")));
	assert_int_equal(a->dnskey.n_rdata, 1);
	assert_int_equal(a->ds.n_rdata, 1);
	assert_true(a->ds.owner == a->owner && a->dnskey.type == TYPE_DNSKEY);
	/* the closest anchor wins */
	a = trust_anchor_find(&ta, t_name("a.sub.example."));
	assert_true(name_equal(a->owner, t_name("sub.example.")));
	assert_null(trust_anchor_find(&ta, t_name("example.org.")));
	trust_anchors_free(&ta);
	trust_anchors_free(&ta); /* safe twice */
}

static void test_ta_errors_name_file_and_line_and_keep_the_set(void **state)
{
	(void)state;
	struct trust_anchors ta = { 0 };
	char err[256] = "";
	assert_int_equal(load_text(&ta, ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
				   err, sizeof(err)),
			 0);
	static const struct { const char *text, *err; } bad[] = {
		{ "; first\n. IN DS 1 8 2 00\n", "FILE:2: DS digest length does not match its type" },
		{ ". IN DS 1 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
		  "example. IN TXT \"x\"\n", "FILE:2: not a DS or DNSKEY record" },
		{ "\n\n. CH DS 1 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
		  "FILE:3: not class IN" },
		{ ". IN DNSKEY 1 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n",
		  "FILE:1: DNSKEY without the zone key bit" },
		{ "; nothing\n", "FILE: no DS or DNSKEY record" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load_text(&ta, bad[i].text, err, sizeof(err)), TERN_ECONFIG);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(ta.n_anchors, 1);
		assert_int_equal(ta.anchors[0].ds.n_rdata, 1);
	}
	/* ldns's own syntax errors carry a line too */
	assert_int_equal(load_text(&ta, ". IN DS 1 8 2 E06D\n. IN DNSKEY garbage\n", err, sizeof(err)),
			 TERN_ECONFIG);
	assert_true(strncmp(err, "FILE:", 5) == 0);
	assert_int_equal(trust_anchor_load(&ta, "/nonexistent/root.key", err, sizeof(err)), TERN_ECONFIG);
	assert_string_equal(err, "/nonexistent/root.key: No such file or directory");
	assert_int_equal(ta.n_anchors, 1);
	trust_anchors_free(&ta);
}

static void test_ta_negative_anchors_cover_their_subtree(void **state)
{
	(void)state;
	struct trust_anchors ta = { 0 };
	assert_int_equal(trust_anchor_add_negative(&ta, t_name("Broken.Example.")), 0);
	assert_true(trust_anchor_is_negative(&ta, t_name("broken.example.")));
	assert_true(trust_anchor_is_negative(&ta, t_name("www.BROKEN.example.")));
	assert_false(trust_anchor_is_negative(&ta, t_name("example.")));
	assert_false(trust_anchor_is_negative(&ta, t_name("notbroken.example.")));
	trust_anchors_free(&ta);
	assert_false(trust_anchor_is_negative(&ta, t_name("broken.example.")));
}

#define T(f) cmocka_unit_test_setup_teardown(f, t_setup, t_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ta_debian_root_key_and_ds_load_and_match),
		T(test_ta_reads_zone_file_syntax),
		T(test_ta_errors_name_file_and_line_and_keep_the_set),
		T(test_ta_negative_anchors_cover_their_subtree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
