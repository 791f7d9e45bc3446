/* tests for cache/evict through the cache's API: a full shard makes room
 * instead of refusing writes; entries expired beyond the stale window go
 * first, then the least recently read; the cache is never wiped whole, and a
 * hot set survives any amount of cold writes. */
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

/* A cache of its own, in the fixture's directory. */
static struct cache *open_small(struct fixture *f, const char *sub, size_t max_bytes,
				unsigned n_shards, uint32_t stale_s)
{
	char dir[128];
	struct cache *c;
	snprintf(dir, sizeof(dir), "%s/%s", f->dir, sub);
	struct cache_opts opts = { .max_bytes = max_bytes, .n_shards = n_shards, .stale_s = stale_s };
	assert_int_equal(cache_open_ex(&c, dir, &opts), 0);
	return c;
}

/* Stash @n A RRsets named "<prefix><i>.d<i % n_domains>.com." from @first on,
 * in batches of 50. */
static void stash_range(struct cache *c, const char *prefix, int first, int n, int n_domains,
			uint32_t ttl_s, uint64_t now_s)
{
	uint8_t names[50][256];
	struct payload p[50];
	struct cache_put puts[50];
	for (int i = first; i < first + n;) {
		size_t k = 0;
		for (; k < 50 && i < first + n; k++, i++) {
			char text[64];
			snprintf(text, sizeof(text), "%s%d.d%d.com.", prefix, i, i % n_domains);
			puts[k] = (struct cache_put){ .name = wire(names[k], text), .type = 1,
						      .entry = a_rrset(&p[k], (uint8_t)i, RANK_ANSWER,
								       ttl_s) };
		}
		assert_int_equal(cache_stash_many(c, puts, k, now_s), 0);
	}
}

static int hit(void *ctx, const struct cache_entry *e)
{
	(void)ctx, (void)e;
	return 0;
}

/* How many of "<prefix><i>.d<i % n_domains>.com." for i in [first, first + n) are found. */
static int count_found(struct cache *c, const char *prefix, int first, int n, int n_domains,
		       uint64_t now_s)
{
	int found = 0;
	for (int i = first; i < first + n; i++) {
		uint8_t name[256];
		char text[64];
		snprintf(text, sizeof(text), "%s%d.d%d.com.", prefix, i, i % n_domains);
		found += cache_read(c, wire(name, text), 1, now_s, hit, NULL) == 0;
	}
	return found;
}

/* count_found(), but looking at the files directly: no read is recorded. */
static int count_present(struct cache *c, const char *prefix, int first, int n, int n_domains)
{
	int found = 0;
	for (int i = first; i < first + n; i++) {
		uint8_t name[256], key[KEY_DB_MAX];
		char text[64];
		snprintf(text, sizeof(text), "%s%d.d%d.com.", prefix, i, i % n_domains);
		size_t domain_len;
		int len = key_locate(key, wire(name, text), 1, &domain_len);
		struct shard *s = &c->shards[cache_shard_of(c, name)];
		MDB_txn *txn;
		assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
		MDB_val k = { (size_t)len, key }, v;
		found += mdb_get(txn, s->dbi, &k, &v) == 0;
		mdb_txn_abort(txn);
	}
	return found;
}

static void test_evict_keeps_hot_set_while_filling_with_cold_entries(void **state)
{
	struct fixture *f = *state;
	struct cache *c = open_small(f, "small", 2u << 20, 4, 0);
	stash_range(c, "hot", 0, 100, 10, 86400, NOW);
	for (int batch = 0; batch < 1000; batch++) {
		/* 50 cold names, never read again, under 1000 registered domains */
		stash_range(c, "cold", batch * 50, 50, 1000, 86400, NOW);
		assert_int_equal(count_found(c, "hot", 0, 100, 10, NOW), 100);
	}
	size_t n = cache_count(c);
	assert_true(n < 50000); /* it filled up and evicted */
	assert_true(n > 5000);  /* and was never wiped */
	assert_int_equal(count_found(c, "hot", 0, 100, 10, NOW), 100);
	/* the newest cold names found room */
	assert_int_equal(count_found(c, "cold", 49950, 50, 1000, NOW), 50);
	cache_close(c);
}

static void test_evict_takes_entries_expired_beyond_stale_window_first(void **state)
{
	struct fixture *f = *state;
	struct cache *c = open_small(f, "one", 2u << 20, 1, 600);
	/* long expired, recently expired (within the window), and fresh */
	stash_range(c, "dead", 0, 3000, 50, 10, NOW);
	stash_range(c, "stale", 0, 1500, 50, 10, NOW + 2000);
	stash_range(c, "fresh", 0, 1500, 50, 86400, NOW + 2000);
	assert_int_equal(cache_count(c), 6000);
	/* new entries, under one registered domain, until the first eviction */
	int n_new = 0;
	while (count_present(c, "dead", 0, 3000, 50) == 3000) {
		assert_true(n_new < 40000);
		stash_range(c, "new", n_new, 100, 1, 86400, NOW + 2100);
		n_new += 100;
	}
	assert_true(n_new > 0);
	/* only dead entries went */
	assert_int_equal(count_present(c, "fresh", 0, 1500, 50), 1500);
	assert_int_equal(count_present(c, "new", 0, n_new, 1), n_new);
	int stale = 0;
	for (int i = 0; i < 1500; i++) {
		uint8_t n[256];
		char text[64];
		struct cache_entry e;
		snprintf(text, sizeof(text), "stale%d.d%d.com.", i, i % 50);
		stale += cache_find_stale(c, wire(n, text), 1, NOW + 2100, 600, f->a, &e) == 0;
	}
	assert_int_equal(stale, 1500);
	cache_close(c);
}

static void test_evict_takes_least_recently_read_first(void **state)
{
	struct fixture *f = *state;
	struct cache *c = open_small(f, "one", 2u << 20, 1, 0);
	stash_range(c, "read", 0, 2000, 50, 86400, NOW);
	stash_range(c, "unread", 0, 2000, 50, 86400, NOW);
	/* new entries until half of the unread ones are gone, reading the
	 * others now and then */
	int first = 0;
	while (count_present(c, "unread", 0, 2000, 50) > 1000) {
		assert_true(first < 100000);
		assert_int_equal(count_found(c, "read", 0, 2000, 50, NOW), 2000);
		stash_range(c, "new", first, 200, 50, 86400, NOW);
		first += 200;
	}
	assert_int_equal(count_found(c, "read", 0, 2000, 50, NOW), 2000);
	cache_close(c);
}

static void test_evict_keeps_serving_when_map_is_full(void **state)
{
	struct fixture *f = *state;
	struct cache *c = open_small(f, "full", CACHE_MIN_BYTES, 0, 0);

	uint8_t rdata[200];
	memset(rdata, 0xab, sizeof(rdata));
	struct payload p = { .len = 0 };
	payload_add(&p, rdata, sizeof(rdata));
	struct cache_entry e = rrset(&p, 1, 0, RANK_ANSWER, 300);
	uint8_t names[20][256];
	struct cache_put puts[20];
	for (int batch = 0; batch < 100; batch++) {
		for (int i = 0; i < 20; i++) {
			char text[64];
			snprintf(text, sizeof(text), "n%d.example.com.", batch * 20 + i);
			puts[i] = (struct cache_put){ .name = wire(names[i], text), .type = 1, .entry = e };
		}
		assert_int_equal(cache_stash_many(c, puts, 20, NOW), 0);
		/* what was just stored is served */
		struct cache_entry out;
		assert_int_equal(cache_find(c, names[19], 1, NOW, f->a, &out), 0);
		assert_memory_equal(out.data, p.b, p.len);
	}
	size_t full = cache_count(c);
	assert_true(full > 200 && full < 2000); /* it filled up, and made room */

	/* a big entry (overflow pages) finds room, or is dropped alone: a full
	 * map may have no run of free pages long enough */
	const uint32_t big_len = 12000;
	uint8_t *big = calloc(1, big_len);
	assert_non_null(big);
	big[0] = (uint8_t)((big_len - 2) >> 8);
	big[1] = (uint8_t)(big_len - 2);
	struct cache_entry large = { .kind = CACHE_RRSET, .rank = RANK_ANSWER, .ttl_s = 300,
				     .n_rdata = 1, .data = big, .data_len = big_len };
	uint8_t n[256];
	assert_int_equal(cache_stash(c, wire(n, "big.example.com."), 1, &large, NOW), 0);
	int rc = cache_find(c, n, 1, NOW, f->a, &large);
	assert_true(rc == 0 || rc == TERN_ENOTFOUND);
	if (rc == 0)
		assert_int_equal(large.data_len, big_len);
	free(big);
	assert_true(cache_count(c) > 100);
	struct cache_entry out;
	assert_int_equal(cache_find(c, names[19], 1, NOW, f->a, &out), 0);
	cache_close(c);
}

/* Two writers filling a small cache while readers keep a hot set warm. */
struct pressure {
	struct cache *c;
	int id;
	atomic_bool done;
	atomic_int n_bad;
};

static void *pressure_writer(void *arg)
{
	struct pressure *p = arg;
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "w%d-", p->id);
	for (int batch = 0; batch < 400; batch++) {
		uint8_t names[50][256];
		struct payload pl[50];
		struct cache_put puts[50];
		for (int k = 0; k < 50; k++) {
			char text[64];
			int i = batch * 50 + k;
			snprintf(text, sizeof(text), "%s%d.d%d.com.", prefix, i, i % 300);
			puts[k] = (struct cache_put){ .name = wire(names[k], text), .type = 1,
						      .entry = a_rrset(&pl[k], (uint8_t)i, RANK_ANSWER,
								       86400) };
		}
		if (cache_stash_many(p->c, puts, 50, NOW) != 0)
			atomic_fetch_add(&p->n_bad, 1);
		/* the hot set is read between any two batches, whatever the
		 * scheduler does with the readers */
		count_found(p->c, "hot", 0, 100, 10, NOW);
	}
	return NULL;
}

static void *pressure_reader(void *arg)
{
	struct pressure *p = arg;
	while (!atomic_load(&p->done))
		count_found(p->c, "hot", 0, 100, 10, NOW);
	return NULL;
}

static void test_evict_keeps_hot_set_under_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	struct cache *c = open_small(f, "small", 2u << 20, 4, 0);
	stash_range(c, "hot", 0, 100, 10, 86400, NOW);
	struct pressure w[2] = { { .c = c, .id = 0 }, { .c = c, .id = 1 } };
	struct pressure r = { .c = c };
	atomic_init(&r.done, false);
	pthread_t writers[2], readers[2];
	for (int i = 0; i < 2; i++) {
		atomic_init(&w[i].n_bad, 0);
		assert_int_equal(pthread_create(&writers[i], NULL, pressure_writer, &w[i]), 0);
		assert_int_equal(pthread_create(&readers[i], NULL, pressure_reader, &r), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(writers[i], NULL);
	atomic_store(&r.done, true);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	assert_int_equal(atomic_load(&w[0].n_bad) + atomic_load(&w[1].n_bad), 0);
	assert_true(cache_count(c) < 40000 && cache_count(c) > 2000);
	assert_int_equal(count_found(c, "hot", 0, 100, 10, NOW), 100);
	cache_close(c);
}

int main(void)
{
	log_threshold = getenv("TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR;
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_evict_keeps_hot_set_while_filling_with_cold_entries),
		T(test_evict_takes_entries_expired_beyond_stale_window_first),
		T(test_evict_takes_least_recently_read_first),
		T(test_evict_keeps_serving_when_map_is_full),
		T(test_evict_keeps_hot_set_under_concurrent_writers),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
