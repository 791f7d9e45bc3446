/* tests for cache/cache: round trips, TTL and rank rules (RFC 2181 5.4.1), negative
 * entries (RFC 2308), subtree removal, zero-copy and stale reads (RFC 8767), the
 * closest enclosing zone cut, shard routing and batching, and readers running
 * while a writer stashes. Files and processes: test_cache_files.c; eviction:
 * test_evict.c. Each test gets its own cache directory under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/cache/helpers.h"
#include "cache/impl.h"
#include "base/log.h"

#include <pthread.h>
#include <stdatomic.h>

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

/* ---- zero-copy reads ------------------------------------------------------ */

struct seen {
	int n_calls;
	struct cache_entry e;
	uint8_t data[64];
};

static int remember(void *ctx, const struct cache_entry *e)
{
	struct seen *s = ctx;
	s->n_calls++;
	s->e = *e;
	if (e->data_len <= sizeof(s->data))
		memcpy(s->data, e->data, e->data_len);
	return 42;
}

static void test_cache_read_passes_entry_in_the_map_and_returns_callback_result(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct payload p;
	struct cache_entry in = a_rrset(&p, 9, RANK_ANSWER, 300);
	in.verdict = VERDICT_SECURE;
	assert_int_equal(cache_stash(f->c, wire(n, "www.example.com."), 1, &in, NOW), 0);

	struct seen s = { 0 };
	assert_int_equal(cache_read(f->c, n, 1, NOW + 100, remember, &s), 42);
	assert_int_equal(s.n_calls, 1);
	assert_int_equal(s.e.kind, CACHE_RRSET);
	assert_int_equal(s.e.rank, RANK_ANSWER);
	assert_int_equal(s.e.verdict, VERDICT_SECURE);
	assert_false(s.e.stale);
	assert_int_equal(s.e.ttl_s, 200);
	assert_int_equal(s.e.orig_ttl_s, 300);
	assert_int_equal(s.e.n_rdata, 1);
	assert_int_equal(s.e.data_len, p.len);
	assert_memory_equal(s.data, p.b, p.len);
	assert_true(s.e.data != p.b); /* in the map, not the caller's buffer */

	/* absent, other type, expired: the callback is not called */
	assert_int_equal(cache_read(f->c, wire(n, "nope.example.com."), 1, NOW, remember, &s),
			 TERN_ENOTFOUND);
	assert_int_equal(cache_read(f->c, wire(n, "www.example.com."), 28, NOW, remember, &s),
			 TERN_ENOTFOUND);
	assert_int_equal(cache_read(f->c, n, 1, NOW + 300, remember, &s), TERN_ENOTFOUND);
	assert_int_equal(s.n_calls, 1);
	uint8_t bad[2] = { 0xc0, 0 };
	assert_int_equal(cache_read(f->c, bad, 1, NOW, remember, &s), TERN_EMALFORMED);
}

struct stash_job {
	struct cache *c;
	const char *name;
};

static void *stash_in_thread(void *arg)
{
	struct stash_job *job = arg;
	stash_a(job->c, job->name, 5, RANK_ANSWER, 300, NOW);
	return NULL;
}

static void test_cache_read_hold_keeps_snapshots_until_release(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct seen s = { 0 };
	assert_int_equal(cache_read_hold(f->c), 0);
	wire(n, "other.example.com.");
	assert_int_equal(cache_read(f->c, n, 1, NOW, remember, &s), TERN_ENOTFOUND);
	/* another thread's write: not seen in the hold */
	struct stash_job job = { f->c, "other.example.com." };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stash_in_thread, &job), 0);
	pthread_join(t, NULL);
	assert_int_equal(cache_read(f->c, n, 1, NOW, remember, &s), TERN_ENOTFOUND);
	/* this thread's own write: seen at once */
	stash_a(f->c, "mine.example.com.", 6, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "mine.example.com.", NOW), 6);
	cache_read_release(f->c);
	assert_int_equal(cache_read(f->c, n, 1, NOW, remember, &s), 42);
	assert_int_equal(s.data[5], 5);
	/* and reads go on as before */
	assert_int_equal(find_a(f, "mine.example.com.", NOW), 6);
	cache_read_release(f->c); /* a release without a hold is harmless */
}

static void test_cache_ref_is_current_until_its_entry_is_written(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct seen s = { 0 };
	struct cache_ref ref;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	wire(n, "www.example.com.");
	assert_int_equal(cache_read_ref(f->c, n, 1, NOW + 10, remember, &s, &ref), 42);
	assert_int_equal(ref.expire_s, NOW + 300);
	assert_int_equal(ref.shard, cache_shard_of(f->c, n));
	assert_true(cache_ref_current(f->c, &ref));
	assert_true(cache_ref_current(f->c, &ref)); /* reading does not change it */
	/* a miss fills nothing, and says so */
	struct cache_ref none = ref;
	assert_int_equal(cache_read_ref(f->c, wire(n, "nowhere.example.com."), 1, NOW, remember, &s,
					&none),
			 TERN_ENOTFOUND);
	assert_true(cache_ref_current(f->c, &ref));
	/* a write of the name ends it (other names: tests/unit/cache/test_gen.c) */
	stash_a(f->c, "www.example.com.", 8, RANK_ANSWER, 300, NOW);
	assert_false(cache_ref_current(f->c, &ref));
	/* read again: current again */
	assert_int_equal(cache_read_ref(f->c, wire(n, "WWW.example.com."), 1, NOW, remember, &s, &ref),
			 42);
	assert_true(cache_ref_current(f->c, &ref));
	/* in a hold too, and a removal is a write */
	assert_int_equal(cache_read_hold(f->c), 0);
	assert_true(cache_ref_current(f->c, &ref));
	assert_int_equal(cache_remove(f->c, wire(n, "www.example.com."), false), 1);
	assert_false(cache_ref_current(f->c, &ref));
	cache_read_release(f->c);
	/* nonsense from the caller is not current */
	ref.shard = CACHE_SHARDS_MAX;
	assert_false(cache_ref_current(f->c, &ref));
}

/* ---- serve-stale, RFC 8767 ------------------------------------------------- */

static void test_cache_read_stale_serves_expired_entries_within_window(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct seen s = { 0 };
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	wire(n, "www.example.com.");

	/* fresh: as cache_read */
	assert_int_equal(cache_read_stale(f->c, n, 1, NOW + 10, 60, remember, &s), 42);
	assert_false(s.e.stale);
	assert_int_equal(s.e.ttl_s, 290);
	/* expired 10 s ago: stale, TTL 0, the data intact */
	assert_int_equal(cache_read(f->c, n, 1, NOW + 310, remember, &s), TERN_ENOTFOUND);
	assert_int_equal(cache_read_stale(f->c, n, 1, NOW + 310, 60, remember, &s), 42);
	assert_true(s.e.stale);
	assert_int_equal(s.e.ttl_s, 0);
	assert_int_equal(s.e.orig_ttl_s, 300);
	assert_int_equal(s.data[5], 7);
	/* at the edge of the window, and past it */
	assert_int_equal(cache_read_stale(f->c, n, 1, NOW + 360, 60, remember, &s), 42);
	assert_int_equal(cache_read_stale(f->c, n, 1, NOW + 361, 60, remember, &s), TERN_ENOTFOUND);
	assert_int_equal(cache_read_stale(f->c, n, 1, NOW + 300, 0, remember, &s), 42);
	assert_true(s.e.stale);

	/* the copying variant */
	struct cache_entry out;
	assert_int_equal(cache_find(f->c, n, 1, NOW + 310, f->a, &out), TERN_ENOTFOUND);
	assert_int_equal(cache_find_stale(f->c, n, 1, NOW + 310, 60, f->a, &out), 0);
	assert_true(out.stale);
	assert_int_equal(out.ttl_s, 0);
	assert_int_equal(out.data[5], 7);

	/* reads never delete: the expired entry is still stored */
	assert_int_equal(cache_count(f->c), 1);
}

static void test_cache_replaces_stale_entry_with_anything(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	struct cache_entry out;
	stash_a(f->c, "ns.example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "ns.example.com.", 2, RANK_ADDITIONAL, 300, NOW + 400);
	assert_int_equal(cache_find_stale(f->c, wire(n, "ns.example.com."), 1, NOW + 400, 3600, f->a,
					  &out), 0);
	assert_false(out.stale);
	assert_int_equal(out.data[5], 2);
}

/* ---- the closest enclosing zone cut ------------------------------------------ */

/* The zone that cache_find_cut() returns for @name as text, or "-" for none. */
static const char *cut_of(struct fixture *f, const char *name, uint64_t now_s, char out[256])
{
	uint8_t n[256], zone[255];
	struct cache_entry ns;
	memset(zone, 0xee, sizeof(zone));
	int rc = cache_find_cut(f->c, wire(n, name), now_s, f->a, zone, &ns);
	if (rc == TERN_ENOTFOUND)
		return strcpy(out, "-");
	assert_int_equal(rc, 0);
	assert_int_equal(ns.kind, CACHE_RRSET);
	assert_false(ns.stale);
	assert_true(ns.ttl_s > 0);
	/* the NS RRset is the one stashed at that zone: it names ns1.<zone> */
	char target[256], want[300];
	text_of(out, zone);
	text_of(target, ns.data + 2);
	snprintf(want, sizeof(want), "ns1.%s", strcmp(out, ".") == 0 ? "" : out);
	assert_string_equal(target, want);
	return out;
}

static void test_cache_find_cut_returns_deepest_ancestor_with_ns(void **state)
{
	struct fixture *f = *state;
	char z[256];
	assert_string_equal(cut_of(f, "www.example.com.", NOW, z), "-");
	stash_ns(f->c, ".", 3600, NOW);
	stash_ns(f->c, "com.", 3600, NOW);
	stash_ns(f->c, "example.com.", 3600, NOW);
	stash_ns(f->c, "sub.example.com.", 3600, NOW);
	/* other data at the names must not matter */
	stash_a(f->c, "www.example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "a.sub.example.com.", 1, RANK_ANSWER, 300, NOW);

	assert_string_equal(cut_of(f, "www.a.sub.example.com.", NOW, z), "sub.example.com.");
	assert_string_equal(cut_of(f, "sub.example.com.", NOW, z), "sub.example.com.");
	assert_string_equal(cut_of(f, "www.example.com.", NOW, z), "example.com.");
	assert_string_equal(cut_of(f, "example.com.", NOW, z), "example.com.");
	assert_string_equal(cut_of(f, "other.com.", NOW, z), "com.");
	assert_string_equal(cut_of(f, "com.", NOW, z), "com.");
	assert_string_equal(cut_of(f, "www.example.org.", NOW, z), ".");
	assert_string_equal(cut_of(f, "org.", NOW, z), ".");
	assert_string_equal(cut_of(f, ".", NOW, z), ".");
	/* the zone comes back lowercased; the case of the question does not matter */
	assert_string_equal(cut_of(f, "WWW.Sub.EXAMPLE.com.", NOW, z), "sub.example.com.");
}

static void test_cache_find_cut_skips_cuts_that_are_not_ancestors(void **state)
{
	struct fixture *f = *state;
	char z[256];
	/* siblings and cousins that sort between an ancestor and the name */
	static const char *const cuts[] = { "example.com.", "a.example.com.", "b.example.com.",
					    "zz.a.example.com.", "a-b.example.com.",
					    "exampl.com.", "example0.com." };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		stash_ns(f->c, cuts[i], 3600, NOW);
	assert_string_equal(cut_of(f, "c.example.com.", NOW, z), "example.com.");
	assert_string_equal(cut_of(f, "www.c.example.com.", NOW, z), "example.com.");
	assert_string_equal(cut_of(f, "x.zz.a.example.com.", NOW, z), "zz.a.example.com.");
	assert_string_equal(cut_of(f, "y.a.example.com.", NOW, z), "a.example.com.");
	assert_string_equal(cut_of(f, "zzz.a.example.com.", NOW, z), "a.example.com.");
	assert_string_equal(cut_of(f, "a0.example.com.", NOW, z), "example.com.");
	assert_string_equal(cut_of(f, "b.a-b.example.com.", NOW, z), "a-b.example.com.");
	assert_string_equal(cut_of(f, "aaa.example.com.", NOW, z), "example.com.");
	assert_string_equal(cut_of(f, "www.examplf.com.", NOW, z), "-");
	assert_string_equal(cut_of(f, "x.example1.com.", NOW, z), "-");
}

static void test_cache_find_cut_skips_expired_and_nodata_ns(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	char z[256];
	stash_ns(f->c, "com.", 3600, NOW);
	stash_ns(f->c, "example.com.", 60, NOW);
	stash_ns(f->c, "a.example.com.", 3600, NOW);
	stash_ns(f->c, "b.a.example.com.", 60, NOW);
	struct cache_entry nodata = { .kind = CACHE_NODATA, .rank = RANK_AUTHORITY, .ttl_s = 3600 };
	assert_int_equal(cache_stash(f->c, wire(n, "c.b.a.example.com."), KEY_TYPE_NS, &nodata, NOW),
			 0);
	assert_string_equal(cut_of(f, "x.c.b.a.example.com.", NOW, z), "b.a.example.com.");
	assert_string_equal(cut_of(f, "x.c.b.a.example.com.", NOW + 60, z), "a.example.com.");
	assert_string_equal(cut_of(f, "x.example.com.", NOW + 59, z), "example.com.");
	assert_string_equal(cut_of(f, "x.example.com.", NOW + 60, z), "com.");
	assert_string_equal(cut_of(f, "x.example.com.", NOW + 3600, z), "-");
	/* the NS entries are there for cache_find too, stale ones for the stale variant */
	struct cache_entry out;
	assert_int_equal(cache_find(f->c, wire(n, "example.com."), KEY_TYPE_NS, NOW, f->a, &out), 0);
	assert_int_equal(cache_find(f->c, n, KEY_TYPE_NS, NOW + 60, f->a, &out), TERN_ENOTFOUND);
	assert_int_equal(cache_find_stale(f->c, n, KEY_TYPE_NS, NOW + 60, 60, f->a, &out), 0);
	assert_int_equal(cache_find(f->c, wire(n, "c.b.a.example.com."), KEY_TYPE_NS, NOW, f->a,
				    &out), 0);
	assert_int_equal(out.kind, CACHE_NODATA);
}

static void test_cache_find_cut_handles_long_names(void **state)
{
	struct fixture *f = *state;
	char name[300], z[256];
	/* 120 one-letter labels, then example.com: a cut every 10 labels */
	size_t w = 0;
	for (int i = 0; i < 120; i++) {
		name[w++] = (char)('a' + i % 26);
		name[w++] = '.';
	}
	strcpy(name + w, "example.com.");
	stash_ns(f->c, name + 2 * 115, 3600, NOW);
	stash_ns(f->c, name + 2 * 60, 3600, NOW);
	stash_ns(f->c, name + 2 * 50, 3600, NOW);
	assert_string_equal(cut_of(f, name, NOW, z), name + 2 * 50);
	assert_string_equal(cut_of(f, name + 2 * 55, NOW, z), name + 2 * 60);
	assert_string_equal(cut_of(f, name + 2 * 116, NOW, z), "-");
}

static void test_cache_find_cut_fails_at_arena_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256], zone[255];
	struct cache_entry ns;
	stash_ns(f->c, "example.com.", 3600, NOW);
	struct arena *tiny = arena_create(0);
	assert_non_null(tiny);
	assert_int_equal(cache_find_cut(f->c, wire(n, "www.example.com."), NOW, tiny, zone, &ns),
			 TERN_ELIMIT);
	arena_destroy(tiny);
	uint8_t bad[2] = { 0x40, 0 };
	assert_int_equal(cache_find_cut(f->c, bad, NOW, f->a, zone, &ns), TERN_EMALFORMED);
}

/* Random cut sets against the obvious search: cache_find(NS) label by label. */
static void test_cache_find_cut_agrees_with_label_by_label_search(void **state)
{
	struct fixture *f = *state;
	static const char *const labels[] = { "a", "b", "ab", "a-", "z", "0", "aa", "ba" };
	const size_t n_labels = sizeof(labels) / sizeof(labels[0]);
	srand(7);
	for (int round = 0; round < 20; round++) {
		char text[128], z[256];
		for (int i = 0; i < 60; i++) {
			/* a name of 1 to 5 labels under one of three TLDs */
			int depth = 1 + rand() % 5;
			size_t w = 0;
			for (int d = 0; d < depth - 1; d++)
				w += (size_t)sprintf(text + w, "%s.", labels[(size_t)rand() % n_labels]);
			sprintf(text + w, "%s.", (const char *[]){ "com", "org", "a" }[rand() % 3]);
			stash_ns(f->c, text, (uint32_t)(1 + rand() % 100), NOW);
		}
		if (round % 4 == 0)
			stash_ns(f->c, ".", 50, NOW);
		for (int q = 0; q < 200; q++) {
			int depth = 1 + rand() % 6;
			size_t w = 0;
			for (int d = 0; d < depth - 1; d++)
				w += (size_t)sprintf(text + w, "%s.", labels[(size_t)rand() % n_labels]);
			sprintf(text + w, "%s.", (const char *[]){ "com", "org", "a" }[rand() % 3]);
			uint64_t now_s = NOW + (uint64_t)(rand() % 100);
			/* the obvious search */
			uint8_t n[256];
			const uint8_t *p = wire(n, text);
			const char *want = "-";
			char want_buf[256];
			for (;;) {
				struct cache_entry e;
				if (cache_find(f->c, p, KEY_TYPE_NS, now_s, f->a, &e) == 0 &&
				    e.kind == CACHE_RRSET) {
					want = text_of(want_buf, p);
					break;
				}
				if (*p == 0)
					break;
				p += 1 + *p;
			}
			if (strcmp(cut_of(f, text, now_s, z), want) != 0)
				fprintf(stderr, "round %d q %d: %s at +%d: %s, want %s\n", round, q, text,
					(int)(now_s - NOW), z, want);
			assert_string_equal(cut_of(f, text, now_s, z), want);
		}
		assert_true(cache_remove(f->c, wire((uint8_t[256]){ 0 }, "."), true) >= 0);
		arena_destroy(f->a);
		f->a = arena_create(1 << 20);
	}
}

/* ---- shards ------------------------------------------------------------------ */

static void test_cache_keeps_a_registered_domain_in_one_shard(void **state)
{
	struct fixture *f = *state;
	uint8_t n[256];
	assert_int_equal(f->c->n_shards, CACHE_SHARDS_DEFAULT);
	unsigned home = cache_shard_of(f->c, wire(n, "example.com."));
	static const char *const same[] = { "www.example.com.", "a.b.c.example.com.",
					    "WWW.EXAMPLE.COM." };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(cache_shard_of(f->c, wire(n, same[i])), home);
	/* and registered domains spread over every shard */
	unsigned hits[CACHE_SHARDS_MAX] = { 0 };
	for (int i = 0; i < 200; i++) {
		char text[64];
		snprintf(text, sizeof(text), "www.d%d.com.", i);
		hits[cache_shard_of(f->c, wire(n, text))]++;
	}
	for (unsigned i = 0; i < f->c->n_shards; i++)
		assert_true(hits[i] > 20);
}

static void test_cache_shard_hash_has_a_secret_per_directory(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	struct cache *other;
	snprintf(dir, sizeof(dir), "%s/other", f->dir);
	assert_int_equal(cache_open(&other, dir, MAP_BYTES), 0);
	int n_differ = 0;
	for (int i = 0; i < 64; i++) {
		uint8_t n[256];
		char text[64];
		snprintf(text, sizeof(text), "d%d.com.", i);
		wire(n, text);
		n_differ += cache_shard_of(f->c, n) != cache_shard_of(other, n);
	}
	assert_true(n_differ > 0);
	cache_close(other);
}

static uint64_t last_txnid(struct shard *s)
{
	MDB_envinfo info;
	assert_int_equal(mdb_env_info(s->env, &info), 0);
	return info.me_last_txnid;
}

static void test_cache_stash_many_commits_once_per_shard_touched(void **state)
{
	struct fixture *f = *state;
	uint64_t before[CACHE_SHARDS_MAX];
	unsigned touched[CACHE_SHARDS_MAX] = { 0 };
	for (unsigned i = 0; i < f->c->n_shards; i++)
		before[i] = last_txnid(&f->c->shards[i]);
	/* 40 puts over names of three registered domains */
	static const char *const domains[] = { "example.com.", "example.org.", "example.net." };
	uint8_t names[40][256];
	struct payload p[40];
	struct cache_put puts[40];
	for (int i = 0; i < 40; i++) {
		char text[64];
		snprintf(text, sizeof(text), "n%d.%s", i, domains[i % 3]);
		puts[i] = (struct cache_put){ .name = wire(names[i], text), .type = 1,
					      .entry = a_rrset(&p[i], (uint8_t)i, RANK_ANSWER, 300) };
		touched[cache_shard_of(f->c, names[i])] = 1;
	}
	assert_int_equal(cache_stash_many(f->c, puts, 40, NOW), 0);
	for (unsigned i = 0; i < f->c->n_shards; i++)
		assert_int_equal(last_txnid(&f->c->shards[i]), before[i] + touched[i]);
	assert_int_equal(cache_count(f->c), 40);
	/* a reader right after sees every write */
	assert_int_equal(find_a(f, "n39.example.com.", NOW), 39);
	assert_int_equal(find_a(f, "n37.example.org.", NOW), 37);
}

/* ---- threads ---------------------------------------------------------------- */

#define THREAD_NAMES 64
#define WRITER_ROUNDS 300

struct shared {
	struct cache *c;
	bool zero_copy; /* readers use cache_read(), not cache_find() */
	atomic_bool done;
	atomic_long n_found;
	atomic_long n_bad;
};

/* Names over 8 registered domains, so over every shard. */
static const uint8_t *thread_name(uint8_t out[256], unsigned i)
{
	char text[64];
	snprintf(text, sizeof(text), "t%u.d%u.com.", i, i % 8);
	return wire(out, text);
}

/* Every RRset the writer stores at round r is 4 bytes equal to (uint8_t)r. */
/* One batch: every thread name, its rdata four bytes of @round. */
static int write_round(struct cache *c, int round)
{
	uint8_t names[THREAD_NAMES][256];
	struct payload p[THREAD_NAMES];
	struct cache_put puts[THREAD_NAMES];
	for (unsigned i = 0; i < THREAD_NAMES; i++) {
		uint8_t rd[4];
		memset(rd, round, sizeof(rd));
		p[i].len = 0;
		payload_add(&p[i], rd, sizeof(rd));
		puts[i] = (struct cache_put){ .name = thread_name(names[i], i), .type = 1,
					      .entry = rrset(&p[i], 1, 0, RANK_ANSWER, 300) };
	}
	return cache_stash_many(c, puts, THREAD_NAMES, NOW);
}

static void *writer_main(void *arg)
{
	struct shared *sh = arg;
	for (int round = 1; round <= WRITER_ROUNDS; round++)
		if (write_round(sh->c, round) != 0)
			atomic_fetch_add(&sh->n_bad, 1);
	atomic_store(&sh->done, true);
	return NULL;
}

/* cache_read_fn: 0 if the entry is one the writer stored whole. */
static int check_round(void *ctx, const struct cache_entry *e)
{
	(void)ctx;
	if (e->data_len != 6 || e->n_rdata != 1 || e->ttl_s != 300 || e->data[2] != e->data[3] ||
	    e->data[3] != e->data[4] || e->data[4] != e->data[5])
		return -1;
	return 0;
}

static void *reader_main(void *arg)
{
	struct shared *sh = arg;
	struct arena *a = arena_create(1 << 20);
	unsigned i = 0;
	while (!atomic_load(&sh->done) || i < 1000) {
		uint8_t n[256];
		thread_name(n, i++ % THREAD_NAMES);
		int rc;
		if (sh->zero_copy) {
			rc = cache_read(sh->c, n, 1, NOW, check_round, NULL);
		} else {
			struct cache_entry e;
			rc = cache_find(sh->c, n, 1, NOW, a, &e);
			if (rc == 0)
				rc = check_round(NULL, &e);
		}
		if (rc == TERN_ENOTFOUND)
			continue;
		if (rc != 0) {
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

static void run_readers_and_writer(struct fixture *f, bool zero_copy, int n_readers)
{
	struct shared sh = { .c = f->c, .zero_copy = zero_copy };
	atomic_init(&sh.done, false);
	atomic_init(&sh.n_found, 0);
	atomic_init(&sh.n_bad, 0);
	pthread_t readers[8], writer;
	for (int i = 0; i < n_readers; i++)
		assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &sh), 0);
	assert_int_equal(pthread_create(&writer, NULL, writer_main, &sh), 0);
	pthread_join(writer, NULL);
	for (int i = 0; i < n_readers; i++)
		pthread_join(readers[i], NULL);
	assert_int_equal(atomic_load(&sh.n_bad), 0);
	assert_true(atomic_load(&sh.n_found) > 0);
	assert_int_equal(cache_count(f->c), THREAD_NAMES);
	/* A reader descheduled while it holds a snapshot keeps LMDB from
	 * reusing the pages freed since, so on a loaded machine a small map can
	 * fill during the rounds and a put is dropped (the cache's rule when full:
	 * the older entry stays, still valid for its TTL). With no reader left, a
	 * write replaces every name. */
	assert_int_equal(write_round(f->c, WRITER_ROUNDS + 1), 0);
	for (unsigned i = 0; i < THREAD_NAMES; i++) {
		uint8_t n[256];
		struct cache_entry e;
		assert_int_equal(cache_find(f->c, thread_name(n, i), 1, NOW, f->a, &e), 0);
		assert_int_equal(e.data[2], (uint8_t)(WRITER_ROUNDS + 1));
	}
}

static void test_cache_serves_readers_while_a_writer_stashes(void **state)
{
	run_readers_and_writer(*state, false, 2);
}

static void test_cache_reads_zero_copy_from_many_threads_while_a_writer_stashes(void **state)
{
	run_readers_and_writer(*state, true, 4);
}

int main(void)
{
	/* the recovery tests warn on purpose */
	log_threshold = getenv("TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR;
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
		T(test_cache_read_passes_entry_in_the_map_and_returns_callback_result),
		T(test_cache_read_hold_keeps_snapshots_until_release),
		T(test_cache_ref_is_current_until_its_entry_is_written),
		T(test_cache_read_stale_serves_expired_entries_within_window),
		T(test_cache_replaces_stale_entry_with_anything),
		T(test_cache_find_cut_returns_deepest_ancestor_with_ns),
		T(test_cache_find_cut_skips_cuts_that_are_not_ancestors),
		T(test_cache_find_cut_skips_expired_and_nodata_ns),
		T(test_cache_find_cut_handles_long_names),
		T(test_cache_find_cut_fails_at_arena_cap),
		T(test_cache_find_cut_agrees_with_label_by_label_search),
		T(test_cache_keeps_a_registered_domain_in_one_shard),
		T(test_cache_shard_hash_has_a_secret_per_directory),
		T(test_cache_stash_many_commits_once_per_shard_touched),
		T(test_cache_serves_readers_while_a_writer_stashes),
		T(test_cache_reads_zero_copy_from_many_threads_while_a_writer_stashes),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
