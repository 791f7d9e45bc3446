/* tests for cache/gen through cache_read_ref() and cache_ref_current(): a
 * copy of an entry stays current while no write touches its bucket of write
 * generations, whatever else the shard is written; a put, a removal, an
 * eviction (expiry) of its name, or of a name of its bucket, ends it; another
 * process's writes count; a writer that bumped and never committed, a
 * restart, and a damaged generations file leave nothing stale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/cache/helpers.h"
#include "cache/evict.h"
#include "cache/impl.h"
#include "base/log.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static int remember(void *ctx, const struct cache_entry *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 42;
}

/* A copy of what a read of (@name, A) gives now. */
static struct cache_ref ref_of(struct cache *c, const char *name, uint64_t now_s)
{
	uint8_t n[256];
	int calls = 0;
	struct cache_ref ref;
	assert_int_equal(cache_read_ref(c, wire(n, name), 1, now_s, remember, &calls, &ref), 42);
	assert_int_equal(calls, 1);
	return ref;
}

/* The bucket of (@name, A) in its shard. */
static uint32_t bucket_of(struct cache *c, const char *name)
{
	uint8_t n[256], key[KEY_DB_MAX];
	size_t domain_len;
	int len = key_locate(key, wire(n, name), 1, &domain_len);
	assert_true(len > 0);
	return gen_bucket(&c->shards[cache_shard_of(c, n)].gen, key, (size_t)len);
}

/* A name "x<i>.example.com." in bucket @b (@same) or not in it (!@same). */
static void name_in(struct cache *c, uint32_t b, bool same, char out[64])
{
	for (int i = 0; i < 1000000; i++) {
		snprintf(out, 64, "x%d.example.com.", i);
		if ((bucket_of(c, out) == b) == same)
			return;
	}
	fail_msg("no name found");
}

static void test_gen_write_to_another_name_of_the_shard_keeps_a_copy_current(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	assert_true(cache_ref_current(f->c, &ref));
	char other[64];
	name_in(f->c, ref.bucket, false, other);
	uint8_t n[256];
	assert_int_equal(cache_shard_of(f->c, wire(n, other)), ref.shard); /* the same shard */
	for (int i = 0; i < 20; i++)
		stash_a(f->c, other, (uint8_t)i, RANK_ANSWER, 300, NOW);
	assert_true(cache_ref_current(f->c, &ref));
	/* ...and a copy of the other name is current too, and stays so when
	 * www is written */
	struct cache_ref oref = ref_of(f->c, other, NOW);
	stash_a(f->c, "www.example.com.", 8, RANK_ANSWER, 300, NOW);
	assert_false(cache_ref_current(f->c, &ref));
	assert_true(cache_ref_current(f->c, &oref));
	/* read again: current again, with the new data */
	ref = ref_of(f->c, "www.example.com.", NOW);
	assert_true(cache_ref_current(f->c, &ref));
	assert_int_equal(find_a(f, "www.example.com.", NOW), 8);
}

static void test_gen_write_to_the_name_or_its_bucket_ends_a_copy(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	/* a put that changes nothing is not stored (a lower rank): no write */
	uint8_t n[256];
	struct payload p;
	struct cache_entry glue = a_rrset(&p, 9, RANK_ADDITIONAL, 300);
	assert_int_equal(cache_stash(f->c, wire(n, "www.example.com."), 1, &glue, NOW), 0);
	assert_true(cache_ref_current(f->c, &ref));
	/* the same name rewritten, in any case */
	stash_a(f->c, "WWW.Example.COM.", 7, RANK_ANSWER, 300, NOW);
	assert_false(cache_ref_current(f->c, &ref));
	/* another name of the same bucket: a needless refill, never a stale copy */
	ref = ref_of(f->c, "www.example.com.", NOW);
	char twin[64];
	name_in(f->c, ref.bucket, true, twin);
	stash_a(f->c, twin, 1, RANK_ANSWER, 300, NOW);
	assert_false(cache_ref_current(f->c, &ref));
}

static void test_gen_removal_ends_a_copy(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "mail.example.com.", 8, RANK_ANSWER, 300, NOW);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	struct cache_ref mref = ref_of(f->c, "mail.example.com.", NOW);
	if (mref.bucket == ref.bucket)
		skip();
	uint8_t n[256];
	assert_int_equal(cache_remove(f->c, wire(n, "www.example.com."), false), 1);
	assert_false(cache_ref_current(f->c, &ref));
	assert_true(cache_ref_current(f->c, &mref));
	/* a subtree removal too */
	assert_int_equal(cache_remove(f->c, wire(n, "example.com."), true), 1);
	assert_false(cache_ref_current(f->c, &mref));
}

static void test_gen_eviction_of_an_expired_entry_ends_its_copy(void **state)
{
	struct fixture *f = *state;
	struct cache *c;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/one", f->dir);
	struct cache_opts opts = { .max_bytes = 2u << 20, .n_shards = 1, .stale_s = 60 };
	assert_int_equal(cache_open_ex(&c, dir, &opts), 0);
	stash_a(c, "short.example.com.", 1, RANK_ANSWER, 10, NOW);
	struct cache_ref sref = ref_of(c, "short.example.com.", NOW);
	char keep[64];
	name_in(c, sref.bucket, false, keep);
	stash_a(c, keep, 2, RANK_ANSWER, 86400, NOW);
	struct cache_ref kref = ref_of(c, keep, NOW);
	/* an eviction run long after the expiry, past the stale window: the
	 * expired entry is dead and goes, the other stays */
	struct shard *s = &c->shards[0];
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
	long n_deleted;
	size_t freed, looked, looked_bytes;
	assert_int_equal(evict_run(s, txn, NOW + 1000, 100, SIZE_MAX, 0, &n_deleted, &freed, &looked,
				   &looked_bytes),
			 0);
	assert_int_equal(shard_commit(txn), 0);
	assert_int_equal(n_deleted, 1);
	assert_false(cache_ref_current(c, &sref));
	assert_true(cache_ref_current(c, &kref));
	cache_close(c);
}

/* A writer that stored its id and never committed (killed, or aborted):
 * copies from before are spoilt until the next commit, never kept stale, and
 * copies read after the next commit are current. */
static void test_gen_uncommitted_bump_spoils_at_worst(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	struct shard *s = &f->c->shards[ref.shard];
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
	uint8_t n[256], key[KEY_DB_MAX];
	size_t domain_len;
	int len = key_locate(key, wire(n, "www.example.com."), 1, &domain_len);
	gen_bump(&s->gen, key, (size_t)len, mdb_txn_id(txn));
	mdb_txn_abort(txn);
	assert_false(cache_ref_current(f->c, &ref));
	/* re-read before any commit: still spoilt (the id may yet commit) */
	ref = ref_of(f->c, "www.example.com.", NOW);
	assert_false(cache_ref_current(f->c, &ref));
	/* a commit (of another name) takes that id: copies after it are good */
	char other[64];
	name_in(f->c, ref.bucket, false, other);
	stash_a(f->c, other, 1, RANK_ANSWER, 300, NOW);
	ref = ref_of(f->c, "www.example.com.", NOW);
	assert_true(cache_ref_current(f->c, &ref));
}

/* Another process writing the same cache directory: its writes are seen. */
static void test_gen_writes_of_another_process_count(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	char other[64];
	name_in(f->c, ref.bucket, false, other);
	stash_a(f->c, other, 1, RANK_ANSWER, 300, NOW);
	struct cache_ref oref = ref_of(f->c, other, NOW);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* LMDB: a child opens its own; the parent's is left alone */
		struct cache *c;
		if (cache_open(&c, f->dir, MAP_BYTES) != 0)
			_exit(1);
		uint8_t n[256];
		struct payload p;
		struct cache_entry e = a_rrset(&p, 9, RANK_ANSWER, 300);
		int rc = cache_stash(c, wire(n, "www.example.com."), 1, &e, NOW);
		cache_close(c);
		_exit(rc == 0 ? 0 : 2);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(cache_ref_current(f->c, &ref));
	assert_true(cache_ref_current(f->c, &oref));
	assert_int_equal(find_a(f, "www.example.com.", NOW), 9);
}

/* A restart keeps the generations (ids belong to the environment, which is
 * kept); a generations file that is damaged or of another environment is
 * reset, and what is read after works as before. */
static void test_gen_file_survives_a_restart_and_a_damaged_one_is_reset(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	struct cache_ref before = ref_of(f->c, "www.example.com.", NOW);
	uint64_t epoch = f->c->shards[before.shard].gen.hdr->epoch;
	reopen(f);
	assert_int_equal(f->c->shards[before.shard].gen.hdr->epoch, epoch);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	assert_int_equal(ref.snapshot, before.snapshot);
	assert_true(cache_ref_current(f->c, &ref));
	/* garbage over the header: reset with a new epoch, the entries kept */
	char path[160];
	snprintf(path, sizeof(path), "%s/shard-%u/gen", f->dir, ref.shard);
	cache_close(f->c);
	f->c = NULL;
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage!garbage!", 16, 0), 16);
	close(fd);
	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_true(f->c->shards[ref.shard].gen.hdr->epoch != epoch);
	assert_int_equal(find_a(f, "www.example.com.", NOW), 7);
	ref = ref_of(f->c, "www.example.com.", NOW);
	/* the reset's own commit is in the snapshot: current */
	assert_true(cache_ref_current(f->c, &ref));
	stash_a(f->c, "www.example.com.", 8, RANK_ANSWER, 300, NOW);
	assert_false(cache_ref_current(f->c, &ref));
	/* cut short: reset too */
	cache_close(f->c);
	f->c = NULL;
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(find_a(f, "www.example.com.", NOW), 8);
	ref = ref_of(f->c, "www.example.com.", NOW);
	assert_true(cache_ref_current(f->c, &ref));
	/* removed: made again */
	cache_close(f->c);
	f->c = NULL;
	assert_int_equal(unlink(path), 0);
	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	ref = ref_of(f->c, "www.example.com.", NOW);
	assert_true(cache_ref_current(f->c, &ref));
	stash_a(f->c, "www.example.com.", 9, RANK_ANSWER, 300, NOW);
	assert_false(cache_ref_current(f->c, &ref));
}

/* A copy of a read before the reset of a file that is still mapped (someone
 * overwrote it under us) is spoilt by the floor. */
static void test_gen_floor_spoils_copies_older_than_a_reset(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "www.example.com.", 7, RANK_ANSWER, 300, NOW);
	struct cache_ref ref = ref_of(f->c, "www.example.com.", NOW);
	assert_true(cache_ref_current(f->c, &ref));
	struct gen *g = &f->c->shards[ref.shard].gen;
	atomic_store(&g->hdr->floor, ref.snapshot + 1);
	assert_false(cache_ref_current(f->c, &ref));
	/* nonsense from the caller is not current */
	ref.bucket = g->mask + 1;
	assert_false(cache_ref_current(f->c, &ref));
	ref.shard = CACHE_SHARDS_MAX;
	assert_false(cache_ref_current(f->c, &ref));
}

int main(void)
{
	log_threshold = getenv("TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR;
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_gen_write_to_another_name_of_the_shard_keeps_a_copy_current),
		T(test_gen_write_to_the_name_or_its_bucket_ends_a_copy),
		T(test_gen_removal_ends_a_copy),
		T(test_gen_eviction_of_an_expired_entry_ends_its_copy),
		T(test_gen_uncommitted_bump_spoils_at_worst),
		T(test_gen_writes_of_another_process_count),
		T(test_gen_file_survives_a_restart_and_a_damaged_one_is_reset),
		T(test_gen_floor_spoils_copies_older_than_a_reset),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
