/* tests for cache/cache: round trips, TTL and rank rules (RFC 2181 5.4.1), negative
 * entries (RFC 2308), subtree removal, persistence, recovery from damaged or
 * foreign files, a full map, and readers running while a writer stashes.
 * Each test gets its own cache directory under /tmp. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache/cache.h"
#include "cache/key.h"
#include "base/arena.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOW 1700000000ULL
#define MAP_BYTES (8u << 20)

struct fixture {
	char dir[64];
	struct cache *c;
	struct arena *a;
};

/* ---- helpers ------------------------------------------------------------ */

/* "www.example.com." -> uncompressed wire form */
static const uint8_t *wire(uint8_t out[256], const char *text)
{
	size_t w = 0;
	while (*text && strcmp(text, ".") != 0) {
		size_t len_at = w++;
		while (*text && *text != '.')
			out[w++] = (uint8_t)*text++;
		out[len_at] = (uint8_t)(w - len_at - 1);
		if (*text == '.')
			text++;
	}
	out[w] = 0;
	return out;
}

struct payload {
	uint8_t b[4096];
	uint32_t len;
};

static void payload_add(struct payload *p, const void *rdata, uint16_t rdlen)
{
	p->b[p->len++] = (uint8_t)(rdlen >> 8);
	p->b[p->len++] = (uint8_t)rdlen;
	memcpy(p->b + p->len, rdata, rdlen);
	p->len += rdlen;
}

static struct cache_entry rrset(const struct payload *p, uint16_t n_rdata, uint16_t n_sigs,
				uint8_t rank, uint32_t ttl_s)
{
	return (struct cache_entry){
		.kind = CACHE_RRSET, .rank = rank, .verdict = VERDICT_NONE, .ttl_s = ttl_s,
		.n_rdata = n_rdata, .n_sigs = n_sigs, .data = p->b, .data_len = p->len,
	};
}

/* An A RRset with one address, 10.0.0.@last. */
static struct cache_entry a_rrset(struct payload *p, uint8_t last, uint8_t rank, uint32_t ttl_s)
{
	const uint8_t addr[4] = { 10, 0, 0, last };
	p->len = 0;
	payload_add(p, addr, 4);
	return rrset(p, 1, 0, rank, ttl_s);
}

static void stash_a(struct cache *c, const char *name, uint8_t last, uint8_t rank, uint32_t ttl_s,
		    uint64_t now_s)
{
	uint8_t n[256];
	struct payload p;
	struct cache_entry e = a_rrset(&p, last, rank, ttl_s);
	assert_int_equal(cache_stash(c, wire(n, name), 1, &e, now_s), 0);
}

/* The last address byte of the A RRset at @name, or -1 if not found. */
static int find_a(struct fixture *f, const char *name, uint64_t now_s)
{
	uint8_t n[256];
	struct cache_entry e;
	int rc = cache_find(f->c, wire(n, name), 1, now_s, f->a, &e);
	if (rc == TERN_ENOTFOUND)
		return -1;
	assert_int_equal(rc, 0);
	assert_int_equal(e.data_len, 6);
	return e.data[5];
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void data_path(char out[128], const struct fixture *f, const char *file)
{
	snprintf(out, 128, "%s/%s", f->dir, file);
}

static void reopen(struct fixture *f)
{
	cache_close(f->c);
	f->c = NULL;
	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
}

/* Open the files with LMDB directly, as another program would; the cache is closed. */
static void raw_open(struct fixture *f, MDB_env **env, MDB_txn **txn)
{
	assert_int_equal(mdb_env_create(env), 0);
	assert_int_equal(mdb_env_set_maxdbs(*env, 2), 0);
	assert_int_equal(mdb_env_set_mapsize(*env, MAP_BYTES), 0);
	assert_int_equal(mdb_env_open(*env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(*env, NULL, 0, txn), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/tern-test-cache-XXXXXX");
	if (!mkdtemp(f->dir) || cache_open(&f->c, f->dir, MAP_BYTES) != 0)
		return -1;
	f->a = arena_create(1 << 20);
	*state = f;
	return f->a ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cache_close(f->c);
	arena_destroy(f->a);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- round trip, TTL -------------------------------------------------- */

static void test_cache_returns_stashed_rrset_with_signatures(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct payload p = { .len = 0 };
	const uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 }, sig[40] = { 0, 1, 8, 2 };
	payload_add(&p, a1, 4);
	payload_add(&p, a2, 4);
	payload_add(&p, sig, sizeof(sig));
	struct cache_entry in = rrset(&p, 2, 1, RANK_ANSWER, 300);
	in.verdict = VERDICT_SECURE;
	assert_int_equal(cache_stash(f->c, wire(n, "www.example.com."), 1, &in, NOW), 0);
	assert_int_equal(cache_count(f->c), 1);

	struct cache_entry out;
	assert_int_equal(cache_find(f->c, n, 1, NOW, f->a, &out), 0);
	assert_int_equal(out.kind, CACHE_RRSET);
	assert_int_equal(out.rank, RANK_ANSWER);
	assert_int_equal(out.verdict, VERDICT_SECURE);
	assert_int_equal(out.ttl_s, 300);
	assert_int_equal(out.orig_ttl_s, 300);
	assert_int_equal(out.n_rdata, 2);
	assert_int_equal(out.n_sigs, 1);
	assert_int_equal(out.data_len, p.len);
	assert_memory_equal(out.data, p.b, p.len);
	assert_true(out.data != p.b);

	/* another type at the same name is another entry */
	assert_int_equal(cache_find(f->c, n, 28, NOW, f->a, &out), TERN_ENOTFOUND);
}

static void test_cache_counts_ttl_down(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct cache_entry out;
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	assert_int_equal(cache_find(f->c, wire(n, "example.com."), 1, NOW + 10, f->a, &out), 0);
	assert_int_equal(out.ttl_s, 290);
	assert_int_equal(out.orig_ttl_s, 300);
	assert_int_equal(cache_find(f->c, n, 1, NOW + 299, f->a, &out), 0);
	assert_int_equal(out.ttl_s, 1);
}

static void test_cache_never_returns_more_ttl_when_clock_steps_back(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct cache_entry out;
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	assert_int_equal(cache_find(f->c, wire(n, "example.com."), 1, NOW - 1000, f->a, &out), 0);
	assert_int_equal(out.ttl_s, 300);
}

static void test_cache_hides_expired_entries(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW + 299), 1);
	assert_int_equal(find_a(f, "example.com.", NOW + 300), -1);
	assert_int_equal(find_a(f, "example.com.", NOW + 100000), -1);
}

static void test_cache_does_not_store_zero_ttl(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 0, NOW);
	assert_int_equal(cache_count(f->c), 0);
	assert_int_equal(find_a(f, "example.com.", NOW), -1);
	/* nor does a TTL 0 entry replace a stored one */
	stash_a(f->c, "example.com.", 1, RANK_ADDITIONAL, 60, NOW);
	stash_a(f->c, "example.com.", 2, RANK_ANSWER, 0, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW), 1);
}

static void test_cache_ignores_case_of_names(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "WWW.Example.COM.", 7, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "www.example.com.", NOW), 7);
	assert_int_equal(find_a(f, "wWw.eXaMpLe.cOm.", NOW), 7);
	assert_int_equal(cache_count(f->c), 1);
}

static void test_cache_stores_root_name(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, ".", 3, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, ".", NOW), 3);
}

/* ---- rank, RFC 2181 5.4.1 --------------------------------------------- */

static void test_cache_keeps_fresh_answer_over_glue(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "ns.example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "ns.example.com.", 2, RANK_ADDITIONAL, 300, NOW + 10);
	stash_a(f->c, "ns.example.com.", 3, RANK_REFERRAL, 300, NOW + 10);
	assert_int_equal(find_a(f, "ns.example.com.", NOW + 10), 1);
}

static void test_cache_replaces_glue_with_answer(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "ns.example.com.", 1, RANK_ADDITIONAL, 300, NOW);
	stash_a(f->c, "ns.example.com.", 2, RANK_ANSWER, 300, NOW + 10);
	assert_int_equal(find_a(f, "ns.example.com.", NOW + 10), 2);
}

static void test_cache_replaces_with_equal_rank(void **state)
{
	struct fixture *f = *state;
	struct cache_entry out;
	uint8_t n[256];
	stash_a(f->c, "ns.example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "ns.example.com.", 2, RANK_ANSWER, 60, NOW + 10);
	assert_int_equal(cache_find(f->c, wire(n, "ns.example.com."), 1, NOW + 10, f->a, &out), 0);
	assert_int_equal(out.data[5], 2);
	assert_int_equal(out.ttl_s, 60);
}

static void test_cache_replaces_expired_answer_with_glue(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "ns.example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "ns.example.com.", 2, RANK_ADDITIONAL, 300, NOW + 300);
	assert_int_equal(find_a(f, "ns.example.com.", NOW + 300), 2);
}

static void test_cache_applies_rank_between_puts_of_one_batch(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct payload p1, p2;
	wire(n, "ns.example.com.");
	struct cache_put puts[2] = {
		{ .name = n, .type = 1, .entry = a_rrset(&p1, 1, RANK_ANSWER, 300) },
		{ .name = n, .type = 1, .entry = a_rrset(&p2, 2, RANK_ADDITIONAL, 300) },
	};
	assert_int_equal(cache_stash_many(f->c, puts, 2, NOW), 0);
	assert_int_equal(find_a(f, "ns.example.com.", NOW), 1);
}

/* ---- negative answers, RFC 2308 ----------------------------------------- */

static void soa_payload(struct payload *p, const char *zone)
{
	uint8_t n[256];
	wire(n, zone);
	int len = key_name_len(n, sizeof(n));
	assert_true(len > 0);
	memcpy(p->b, n, (size_t)len);
	p->len = (uint32_t)len;
	uint8_t rdata[64];
	memset(rdata, 0x5a, sizeof(rdata));
	payload_add(p, rdata, sizeof(rdata));
}

static void test_cache_stores_nxdomain_with_soa(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct payload p;
	soa_payload(&p, "example.com.");
	struct cache_entry in = {
		.kind = CACHE_NXDOMAIN, .rank = RANK_AUTHORITY, .ttl_s = 900,
		.data = p.b, .data_len = p.len,
	};
	wire(n, "nope.example.com.");
	assert_int_equal(cache_stash(f->c, n, CACHE_TYPE_NXDOMAIN, &in, NOW), 0);
	struct cache_entry out;
	assert_int_equal(cache_find(f->c, n, CACHE_TYPE_NXDOMAIN, NOW + 1, f->a, &out), 0);
	assert_int_equal(out.kind, CACHE_NXDOMAIN);
	assert_int_equal(out.ttl_s, 899);
	assert_int_equal(out.data_len, p.len);
	assert_memory_equal(out.data, p.b, p.len);
	/* an NXDOMAIN is not an answer for a type */
	assert_int_equal(cache_find(f->c, n, 1, NOW, f->a, &out), TERN_ENOTFOUND);
}

static void test_cache_stores_nodata_with_and_without_soa(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct payload p;
	soa_payload(&p, "example.com.");
	struct cache_entry in = {
		.kind = CACHE_NODATA, .rank = RANK_AUTHORITY, .ttl_s = 900,
		.data = p.b, .data_len = p.len,
	};
	assert_int_equal(cache_stash(f->c, wire(n, "www.example.com."), 28, &in, NOW), 0);
	struct cache_entry empty = { .kind = CACHE_NODATA, .rank = RANK_AUTHORITY, .ttl_s = 60 };
	assert_int_equal(cache_stash(f->c, n, 16, &empty, NOW), 0);

	struct cache_entry out;
	assert_int_equal(cache_find(f->c, n, 28, NOW, f->a, &out), 0);
	assert_int_equal(out.kind, CACHE_NODATA);
	assert_memory_equal(out.data, p.b, p.len);
	assert_int_equal(cache_find(f->c, n, 16, NOW, f->a, &out), 0);
	assert_int_equal(out.kind, CACHE_NODATA);
	assert_int_equal(out.data_len, 0);
	assert_null(out.data);
}

static void test_cache_skips_malformed_puts_and_stores_the_rest(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256], bad_name[2] = { 0xc0, 0 };
	struct payload good, bad;
	struct cache_entry ok = a_rrset(&good, 1, RANK_ANSWER, 300);
	struct cache_entry short_payload = a_rrset(&bad, 1, RANK_ANSWER, 300);
	short_payload.data_len -= 1;
	struct cache_entry nx_as_a = ok;
	nx_as_a.kind = CACHE_NXDOMAIN;
	struct cache_entry bad_rank = ok;
	bad_rank.rank = 9;
	struct cache_entry no_record = ok;
	no_record.n_rdata = 0;
	wire(n, "example.com.");

	const struct cache_entry *bad_entries[] = { &short_payload, &nx_as_a, &bad_rank, &no_record };
	for (uint16_t i = 0; i < 4; i++) {
		struct cache_put puts[2] = {
			{ .name = n, .type = (uint16_t)(100 + i), .entry = *bad_entries[i] },
			{ .name = n, .type = 1, .entry = ok },
		};
		assert_int_equal(cache_stash_many(f->c, puts, 2, NOW), TERN_EMALFORMED);
		assert_int_equal(cache_count(f->c), 1);
	}
	/* an RR of the reserved type 0 is no NXDOMAIN (RFC 6895) */
	struct cache_put puts[2] = {
		{ .name = bad_name, .type = 1, .entry = ok },
		{ .name = n, .type = 0, .entry = ok },
	};
	assert_int_equal(cache_stash_many(f->c, puts, 2, NOW), TERN_EMALFORMED);
	assert_int_equal(cache_stash_many(f->c, puts, 1, NOW), TERN_EMALFORMED);
	assert_int_equal(cache_count(f->c), 1);
	assert_int_equal(find_a(f, "example.com.", NOW), 1);
	/* and a name that is not one is refused by find */
	struct cache_entry out;
	assert_int_equal(cache_find(f->c, bad_name, 1, NOW, f->a, &out), TERN_EMALFORMED);
}

static void test_cache_find_fails_at_arena_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct cache_entry out;
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	struct arena *tiny = arena_create(0);
	assert_non_null(tiny);
	assert_int_equal(cache_find(f->c, wire(n, "example.com."), 1, NOW, tiny, &out), TERN_ELIMIT);
	arena_destroy(tiny);
}

/* ---- removal ------------------------------------------------------------ */

static void test_cache_removes_subtree_and_nothing_beside_it(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	static const char *const gone[] = { "example.com.", "www.example.com.", "a.b.example.com." };
	static const char *const kept[] = { "com.", "example.org.", "xexample.com.", "examplf.com.",
					    "exampl.com.", "zzz.com." };
	for (size_t i = 0; i < 3; i++)
		stash_a(f->c, gone[i], 1, RANK_ANSWER, 300, NOW);
	struct cache_entry nx = { .kind = CACHE_NXDOMAIN, .rank = RANK_AUTHORITY, .ttl_s = 60 };
	assert_int_equal(cache_stash(f->c, wire(n, "nope.example.com."), 0, &nx, NOW), 0);
	for (size_t i = 0; i < 6; i++)
		stash_a(f->c, kept[i], 2, RANK_ANSWER, 300, NOW);
	assert_int_equal(cache_count(f->c), 10);

	assert_int_equal(cache_remove(f->c, wire(n, "Example.COM."), true), 4);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(find_a(f, gone[i], NOW), -1);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(find_a(f, kept[i], NOW), 2);
	assert_int_equal(cache_count(f->c), 6);
}

static void test_cache_removes_all_types_at_one_name(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct payload p;
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	struct cache_entry aaaa = a_rrset(&p, 1, RANK_ANSWER, 300);
	assert_int_equal(cache_stash(f->c, wire(n, "example.com."), 28, &aaaa, NOW), 0);
	assert_int_equal(cache_stash(f->c, n, 0xffff, &aaaa, NOW), 0);
	stash_a(f->c, "www.example.com.", 2, RANK_ANSWER, 300, NOW);

	assert_int_equal(cache_remove(f->c, n, false), 3);
	assert_int_equal(find_a(f, "example.com.", NOW), -1);
	assert_int_equal(find_a(f, "www.example.com.", NOW), 2);
}

static void test_cache_removes_everything_below_root(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	stash_a(f->c, ".", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "a.b.c.", 1, RANK_ANSWER, 300, NOW);
	assert_int_equal(cache_remove(f->c, wire(n, "."), true), 3);
	assert_int_equal(cache_count(f->c), 0);
	assert_int_equal(cache_remove(f->c, n, true), 0);
}

/* ---- files: persistence, recovery ----------------------------------------- */

static void test_cache_persists_across_reopen(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "example.com.", 4, RANK_ANSWER, 300, NOW);
	reopen(f);
	assert_int_equal(cache_count(f->c), 1);
	assert_int_equal(find_a(f, "example.com.", NOW + 1), 4);
}

static void test_cache_creates_missing_directories_private(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	struct stat st;
	struct cache *c;
	snprintf(dir, sizeof(dir), "%s/a/b/c", f->dir);
	assert_int_equal(cache_open(&c, dir, MAP_BYTES), 0);
	cache_close(c);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(cache_open(&c, dir, CACHE_MIN_BYTES - 1), -EINVAL);
}

static void test_cache_starts_empty_on_other_format_version(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "example.com.", 4, RANK_ANSWER, 300, NOW);
	cache_close(f->c);
	f->c = NULL;

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	raw_open(f, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	MDB_val k = { 6, "format" }, v;
	assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
	uint8_t other[4];
	memcpy(other, v.mv_data, 4);
	other[0]++;
	v.mv_data = other;
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(f->c), 0);
	assert_int_equal(find_a(f, "example.com.", NOW), -1);
	/* the fresh cache works and keeps its format */
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	reopen(f);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
}

static void test_cache_starts_empty_on_entries_without_format(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "example.com.", 4, RANK_ANSWER, 300, NOW);
	cache_close(f->c);
	f->c = NULL;

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	raw_open(f, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	MDB_val k = { 6, "format" };
	assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(f->c), 0);
}

static void fill_file(const char *path, off_t at, size_t len, unsigned seed)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	uint8_t *junk = malloc(len);
	assert_non_null(junk);
	srand(seed);
	for (size_t i = 0; i < len; i++)
		junk[i] = (uint8_t)rand();
	assert_int_equal(pwrite(fd, junk, len, at), (ssize_t)len);
	free(junk);
	close(fd);
}

static void stash_many_a(struct cache *c, int n, uint64_t now_s)
{
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "n%d.example.com.", i);
		stash_a(c, name, (uint8_t)i, RANK_ANSWER, 300, now_s);
	}
}

static void test_cache_starts_empty_on_garbage_file(void **state)
{
	struct fixture *f = *state;
	char path[128];
	stash_many_a(f->c, 100, NOW);
	cache_close(f->c);
	f->c = NULL;
	data_path(path, f, "data.mdb");
	fill_file(path, 0, 64 * 1024, 1);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(f->c), 0);
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
}

static void test_cache_starts_empty_on_garbage_lock_file(void **state)
{
	struct fixture *f = *state;
	char path[128];
	cache_close(f->c);
	f->c = NULL;
	data_path(path, f, "lock.mdb");
	fill_file(path, 0, 8192, 2);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
}

static void test_cache_starts_empty_on_truncated_file(void **state)
{
	struct fixture *f = *state;
	char path[128];
	static const off_t sizes[] = { 5 * 4096, 100, 0 };
	data_path(path, f, "data.mdb");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		stash_many_a(f->c, 500, NOW);
		cache_close(f->c);
		f->c = NULL;
		assert_int_equal(truncate(path, sizes[i]), 0);

		assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
		assert_int_equal(cache_count(f->c), 0);
		assert_int_equal(find_a(f, "n7.example.com.", NOW), -1);
		stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
		assert_int_equal(find_a(f, "example.com.", NOW), 5);
	}
}

static void test_cache_treats_damaged_entry_as_absent(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256], key[KEY_MAX];
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "www.example.com.", 1, RANK_ANSWER, 300, NOW);
	cache_close(f->c);
	f->c = NULL;

	/* overwrite the values with well-sized headers that lie about lengths */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	raw_open(f, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "rrsets", 0, &dbi), 0);
	static const char *const names[] = { "example.com.", "www.example.com." };
	for (int i = 0; i < 2; i++) {
		MDB_val k = { (size_t)key_encode(key, wire(n, names[i]), 1), key }, v;
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
		uint8_t copy[64];
		assert_true(v.mv_size <= sizeof(copy));
		memcpy(copy, v.mv_data, v.mv_size);
		if (i == 0)
			copy[20]++; /* data_len one more than the value holds */
		else
			copy[24 + 1]++; /* the rdlen inside the payload */
		v.mv_data = copy;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	/* and one value too short for a header */
	wire(n, "short.example.com.");
	MDB_val k = { (size_t)key_encode(key, n, 1), key }, v = { 3, "abc" };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(find_a(f, "example.com.", NOW), -1);
	assert_int_equal(find_a(f, "www.example.com.", NOW), -1);
	assert_int_equal(find_a(f, "short.example.com.", NOW), -1);
	/* even glue replaces what cannot be read */
	stash_a(f->c, "example.com.", 9, RANK_ADDITIONAL, 300, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW), 9);
}

/* Child processes that die by SIGKILL: once after committing, once while it
 * may be in the middle of a write transaction (holding LMDB's writer lock). */
static void test_cache_survives_kill_9_of_a_writer(void **state)
{
	struct fixture *f = *state;
	cache_close(f->c); /* LMDB: one open of an environment per process */
	f->c = NULL;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cache *c;
		if (cache_open(&c, f->dir, MAP_BYTES) != 0)
			_exit(1);
		stash_many_a(c, 100, NOW);
		raise(SIGKILL);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cache *c;
		if (cache_open(&c, f->dir, MAP_BYTES) != 0)
			_exit(1);
		for (uint64_t i = 0;; i++)
			stash_a(c, "busy.example.com.", (uint8_t)i, RANK_ANSWER, 300, NOW);
	}
	usleep(50 * 1000);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(find_a(f, "n0.example.com.", NOW), 0);
	assert_int_equal(find_a(f, "n99.example.com.", NOW), 99);
	stash_a(f->c, "after.example.com.", 7, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "after.example.com.", NOW), 7);
}

/* ---- a full map ------------------------------------------------------------ */

static void test_cache_keeps_serving_when_map_is_full(void **state)
{
	struct fixture *f = *state;
	struct cache *c;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/small", f->dir);
	assert_int_equal(cache_open(&c, dir, CACHE_MIN_BYTES), 0);

	uint8_t rdata[200];
	memset(rdata, 0xab, sizeof(rdata));
	struct payload p = { .len = 0 };
	payload_add(&p, rdata, sizeof(rdata));
	struct cache_entry e = rrset(&p, 1, 0, RANK_ANSWER, 300);
	uint8_t names[20][256];
	struct cache_put puts[20];
	size_t before = 0;
	for (int batch = 0; batch < 100; batch++) {
		for (int i = 0; i < 20; i++) {
			char text[64];
			snprintf(text, sizeof(text), "n%d.example.com.", batch * 20 + i);
			puts[i] = (struct cache_put){ .name = wire(names[i], text), .type = 1, .entry = e };
		}
		assert_int_equal(cache_stash_many(c, puts, 20, NOW), 0);
		if (batch == 0)
			before = cache_count(c);
	}
	size_t full = cache_count(c);
	assert_int_equal(before, 20);
	assert_true(full > 20 && full < 2000); /* it filled up, and dropped the rest */

	/* what is stored is still served */
	struct cache_entry out;
	assert_int_equal(cache_find(c, wire(names[0], "n0.example.com."), 1, NOW, f->a, &out), 0);
	assert_memory_equal(out.data, p.b, p.len);

	/* once entries have expired, new ones find room */
	for (int i = 0; i < 20; i++) {
		char text[64];
		snprintf(text, sizeof(text), "later%d.example.com.", i);
		puts[i] = (struct cache_put){ .name = wire(names[i], text), .type = 1, .entry = e };
	}
	assert_int_equal(cache_stash_many(c, puts, 20, NOW + 300), 0);
	assert_int_equal(cache_find(c, names[19], 1, NOW + 300, f->a, &out), 0);
	assert_true(cache_count(c) < full);
	cache_close(c);
}

/* ---- threads ---------------------------------------------------------------- */

#define THREAD_NAMES 64
#define WRITER_ROUNDS 300

struct shared {
	struct cache *c;
	atomic_bool done;
	atomic_long n_found;
	atomic_long n_bad;
};

/* Every RRset the writer stores at round r is 4 bytes equal to (uint8_t)r. */
static void *writer_main(void *arg)
{
	struct shared *sh = arg;
	for (int round = 1; round <= WRITER_ROUNDS; round++) {
		uint8_t names[THREAD_NAMES][256];
		struct payload p[THREAD_NAMES];
		struct cache_put puts[THREAD_NAMES];
		for (int i = 0; i < THREAD_NAMES; i++) {
			char text[64];
			uint8_t rd[4];
			snprintf(text, sizeof(text), "t%d.example.com.", i);
			memset(rd, round, sizeof(rd));
			p[i].len = 0;
			payload_add(&p[i], rd, sizeof(rd));
			puts[i] = (struct cache_put){ .name = wire(names[i], text), .type = 1,
						      .entry = rrset(&p[i], 1, 0, RANK_ANSWER, 300) };
		}
		if (cache_stash_many(sh->c, puts, THREAD_NAMES, NOW) != 0)
			atomic_fetch_add(&sh->n_bad, 1);
	}
	atomic_store(&sh->done, true);
	return NULL;
}

static void *reader_main(void *arg)
{
	struct shared *sh = arg;
	struct arena *a = arena_create(1 << 20);
	unsigned i = 0;
	while (!atomic_load(&sh->done) || i < 1000) {
		uint8_t n[256];
		char text[64];
		snprintf(text, sizeof(text), "t%u.example.com.", i++ % THREAD_NAMES);
		struct cache_entry e;
		int rc = cache_find(sh->c, wire(n, text), 1, NOW, a, &e);
		if (rc == TERN_ENOTFOUND)
			continue;
		if (rc != 0 || e.data_len != 6 || e.n_rdata != 1 || e.ttl_s != 300 ||
		    e.data[2] != e.data[3] || e.data[3] != e.data[4] || e.data[4] != e.data[5]) {
			atomic_fetch_add(&sh->n_bad, 1);
			continue;
		}
		atomic_fetch_add(&sh->n_found, 1);
		if (arena_used(a) > (1 << 19)) {
			arena_destroy(a);
			a = arena_create(1 << 20);
		}
	}
	arena_destroy(a);
	return NULL;
}

static void test_cache_serves_readers_while_a_writer_stashes(void **state)
{
	struct fixture *f = *state;
	struct shared sh = { .c = f->c };
	atomic_init(&sh.done, false);
	atomic_init(&sh.n_found, 0);
	atomic_init(&sh.n_bad, 0);
	pthread_t readers[2], writer;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &sh), 0);
	assert_int_equal(pthread_create(&writer, NULL, writer_main, &sh), 0);
	pthread_join(writer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	assert_int_equal(atomic_load(&sh.n_bad), 0);
	assert_true(atomic_load(&sh.n_found) > 0);
	assert_int_equal(cache_count(f->c), THREAD_NAMES);
	/* the last round won everywhere */
	uint8_t n[256];
	struct cache_entry e;
	assert_int_equal(cache_find(f->c, wire(n, "t5.example.com."), 1, NOW, f->a, &e), 0);
	assert_int_equal(e.data[2], (uint8_t)WRITER_ROUNDS);
}

int main(void)
{
	log_threshold = LOG_LEVEL_ERR; /* the recovery tests warn on purpose */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_cache_returns_stashed_rrset_with_signatures),
		T(test_cache_counts_ttl_down),
		T(test_cache_never_returns_more_ttl_when_clock_steps_back),
		T(test_cache_hides_expired_entries),
		T(test_cache_does_not_store_zero_ttl),
		T(test_cache_ignores_case_of_names),
		T(test_cache_stores_root_name),
		T(test_cache_keeps_fresh_answer_over_glue),
		T(test_cache_replaces_glue_with_answer),
		T(test_cache_replaces_with_equal_rank),
		T(test_cache_replaces_expired_answer_with_glue),
		T(test_cache_applies_rank_between_puts_of_one_batch),
		T(test_cache_stores_nxdomain_with_soa),
		T(test_cache_stores_nodata_with_and_without_soa),
		T(test_cache_skips_malformed_puts_and_stores_the_rest),
		T(test_cache_find_fails_at_arena_cap),
		T(test_cache_removes_subtree_and_nothing_beside_it),
		T(test_cache_removes_all_types_at_one_name),
		T(test_cache_removes_everything_below_root),
		T(test_cache_persists_across_reopen),
		T(test_cache_creates_missing_directories_private),
		T(test_cache_starts_empty_on_other_format_version),
		T(test_cache_starts_empty_on_entries_without_format),
		T(test_cache_starts_empty_on_garbage_file),
		T(test_cache_starts_empty_on_garbage_lock_file),
		T(test_cache_starts_empty_on_truncated_file),
		T(test_cache_treats_damaged_entry_as_absent),
		T(test_cache_survives_kill_9_of_a_writer),
		T(test_cache_keeps_serving_when_map_is_full),
		T(test_cache_serves_readers_while_a_writer_stashes),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
