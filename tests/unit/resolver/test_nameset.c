/* tests for resolver/nameset and resolver/prefixset: the blocklist formats,
 * suffix matching on label boundaries, case, escapes, sharing of one loaded
 * file between opens, and a 100k-name list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver/nameset.h"
#include "resolver/prefixset.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/tern-test-nameset-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static bool covers(const struct nameset *s, const char *name)
{
	return nameset_covers(s, name, strlen(name));
}

static void test_nameset_covers_the_name_and_below(void **state)
{
	(void)state;
	struct nameset *s = nameset_new();
	assert_int_equal(nameset_add(s, "Example.COM", 11), 0);
	assert_true(covers(s, "example.com"));
	assert_true(covers(s, "example.com."));
	assert_true(covers(s, "www.EXAMPLE.com"));
	assert_true(covers(s, "a.b.c.example.com"));
	assert_false(covers(s, "com"));
	assert_false(covers(s, "notexample.com"));   /* a label boundary, not a string suffix */
	assert_false(covers(s, "example.com.evil"));
	assert_false(covers(s, "www.example\\.com")); /* an escaped dot is inside a label */
	assert_false(covers(s, ""));
	assert_false(covers(s, "."));
	assert_true(nameset_has(s, "EXAMPLE.com", 11));
	assert_false(nameset_has(s, "www.example.com", 15));
	assert_int_equal(nameset_count(s), 1);
	assert_int_equal(nameset_add(s, "example.com.", 12), 0); /* a duplicate */
	assert_int_equal(nameset_count(s), 1);
	nameset_close(s);
}

static void test_nameset_rejects_what_is_not_a_name(void **state)
{
	(void)state;
	struct nameset *s = nameset_new();
	static const char *const bad[] = { "", ".", "a..b", "a b", "-\x01",
					   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(nameset_add(s, bad[i], strlen(bad[i])), 0);
	assert_int_equal(nameset_count(s), 0);
	nameset_close(s);
}

static void test_nameset_reads_blocklist_and_hosts_formats(void **state)
{
	(void)state;
	char *path = temp_file("# a blocklist\n"
			       "ads.example\n"
			       "  tracker.example   # trailing comment\n"
			       "\n"
			       "*.wild.example\n"
			       "||adblock.example^\n"
			       "127.0.0.1 localhost\n"
			       "::1 ip6-localhost ip6-loopback\n"
			       "0.0.0.0 hosts-one.example hosts-two.example # two on a line\n"
			       "not a name at all !!\n");
	char err[256] = "";
	struct nameset *s = nameset_open(path, err, sizeof(err));
	assert_non_null(s);
	assert_true(covers(s, "ads.example"));
	assert_true(covers(s, "x.tracker.example"));
	assert_true(covers(s, "a.wild.example"));
	assert_true(covers(s, "adblock.example"));
	assert_true(covers(s, "hosts-one.example"));
	assert_true(covers(s, "www.hosts-two.example"));
	assert_false(covers(s, "localhost"));
	assert_false(covers(s, "ip6-localhost"));
	assert_false(covers(s, "example"));
	assert_int_equal(nameset_count(s), 6);
	assert_int_equal(nameset_skipped(s), 1);
	nameset_close(s);
	unlink(path);
	free(path);
}

static void test_nameset_shares_one_load_of_a_file(void **state)
{
	(void)state;
	char *path = temp_file("shared.example\n");
	char err[256];
	struct nameset *a = nameset_open(path, err, sizeof(err));
	struct nameset *b = nameset_open(path, err, sizeof(err));
	assert_non_null(a);
	assert_ptr_equal(a, b);
	nameset_close(a);
	assert_true(covers(b, "shared.example")); /* still alive: b holds it */
	nameset_close(b);
	/* a changed file is a new set */
	FILE *f = fopen(path, "w");
	fputs("other.example\nsecond.example\n", f);
	fclose(f);
	struct nameset *c = nameset_open(path, err, sizeof(err));
	assert_non_null(c);
	assert_true(covers(c, "second.example"));
	nameset_close(c);
	unlink(path);
	assert_null(nameset_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	free(path);
}

static void test_nameset_holds_100k_names(void **state)
{
	(void)state;
	struct nameset *s = nameset_new();
	char name[64];
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(name, sizeof(name), "host%d.domain%d.example", i, i % 977);
		assert_int_equal(nameset_add(s, name, (size_t)n), 0);
	}
	assert_int_equal(nameset_count(s), 100000);
	assert_true(covers(s, "a.b.host99999.domain345.example"));
	assert_false(covers(s, "host100000.domain345.example"));
	/* a few MB, not a Lua table */
	assert_true(nameset_bytes(s) < 8 * 1024 * 1024);
	nameset_close(s);
}

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	return ss;
}

static void test_prefixset_matches_longest_prefix(void **state)
{
	(void)state;
	struct prefixset *p = prefixset_new();
	assert_int_equal(prefixset_add(p, "10.0.0.0/8"), 0);
	assert_int_equal(prefixset_add(p, "10.1.0.0/16"), 0);
	assert_int_equal(prefixset_add(p, "2001:db8::/32"), 0);
	assert_int_equal(prefixset_add(p, "192.0.2.1"), 0);
	assert_int_not_equal(prefixset_add(p, "10.0.0.0/33"), 0);
	assert_int_not_equal(prefixset_add(p, "example.com"), 0);
	struct sockaddr_storage a = addr("10.1.2.3");
	assert_int_equal(prefixset_match(p, (struct sockaddr *)&a), 16);
	a = addr("10.2.2.3");
	assert_int_equal(prefixset_match(p, (struct sockaddr *)&a), 8);
	a = addr("::ffff:10.2.2.3"); /* IPv4 on an IPv6 socket */
	assert_int_equal(prefixset_match(p, (struct sockaddr *)&a), 8);
	a = addr("11.0.0.1");
	assert_false(prefixset_covers(p, (struct sockaddr *)&a));
	assert_true(prefixset_covers_text(p, "2001:db8:1::5"));
	assert_true(prefixset_covers_text(p, "192.0.2.1"));
	assert_false(prefixset_covers_text(p, "192.0.2.2"));
	assert_false(prefixset_covers_text(p, "not an address"));
	prefixset_free(p);
}

/* nameset_covers_canon() (q.name from the wire: label offsets given) agrees
 * with nameset_covers(), through the filters (label counts, Bloom) and
 * table growths: every name listed is found, its children too, others not */
static int starts_of(const char *t, uint16_t *at)
{
	int k = 0;
	at[k++] = 0;
	for (int i = 0; t[i]; i++)
		if (t[i] == '.')
			at[k++] = (uint16_t)(i + 1);
	return k;
}

static void test_nameset_canon_agrees_with_covers(void **state)
{
	(void)state;
	struct nameset *s = nameset_new();
	assert_non_null(s);
	char name[96];
	for (int i = 0; i < 5000; i++) {
		if (i % 2)
			snprintf(name, sizeof(name), "n%d.example", i);
		else
			snprintf(name, sizeof(name), "a.b.n%d.test", i);
		assert_int_equal(nameset_add(s, name, strlen(name)), 0);
	}
	uint16_t at[NAMESET_LABELS_MAX];
	for (int i = 0; i < 10000; i++) {
		if (i % 4 == 0)
			snprintf(name, sizeof(name), "www.n%d.example", i);
		else if (i % 4 == 1)
			snprintf(name, sizeof(name), "n%d.example", i);
		else if (i % 4 == 2)
			snprintf(name, sizeof(name), "x.a.b.n%d.test", i);
		else
			snprintf(name, sizeof(name), "b.n%d.test", i);
		bool want = i < 5000 && (i % 4 < 2 ? i % 2 == 1 : i % 4 == 2 && i % 2 == 0);
		int k = starts_of(name, at);
		assert_int_equal(nameset_covers(s, name, strlen(name)), want);
		assert_int_equal(nameset_covers_canon(s, name, strlen(name), at, k), want);
	}
	assert_false(nameset_covers_canon(s, "example", 7, at, 0));
	nameset_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nameset_covers_the_name_and_below),
		cmocka_unit_test(test_nameset_rejects_what_is_not_a_name),
		cmocka_unit_test(test_nameset_reads_blocklist_and_hosts_formats),
		cmocka_unit_test(test_nameset_shares_one_load_of_a_file),
		cmocka_unit_test(test_nameset_holds_100k_names),
		cmocka_unit_test(test_nameset_canon_agrees_with_covers),
		cmocka_unit_test(test_prefixset_matches_longest_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
