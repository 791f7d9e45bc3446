/* tests for cache/ on disk: persistence across close and kill -9, two processes
 * sharing one directory, the layout record (format, shard count, secret), and
 * recovery from damaged, truncated or foreign files, which must cost a log
 * line and (a part of) the cache, never a crash. Other processes are this
 * program run again (see child_main()), so that each opens LMDB afresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/cache/helpers.h"
#include "cache/impl.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static void path_in(char out[256], const char *dir, int shard, const char *file)
{
	if (shard < 0)
		snprintf(out, 256, "%s/%s", dir, file);
	else
		snprintf(out, 256, "%s/shard-%d/%s", dir, shard, file);
}

/* The shard that holds @name in the fixture's cache. */
static int shard_of(struct fixture *f, const char *name)
{
	uint8_t n[256];
	return (int)cache_shard_of(f->c, wire(n, name));
}

/* Open an environment of the cache with LMDB directly, as another program would. */
static void raw_open(const char *dir, MDB_env **env, MDB_txn **txn)
{
	assert_int_equal(mdb_env_create(env), 0);
	assert_int_equal(mdb_env_set_maxdbs(*env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(*env, MAP_BYTES), 0);
	assert_int_equal(mdb_env_open(*env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(*env, NULL, 0, txn), 0);
}

static void close_cache(struct fixture *f)
{
	cache_close(f->c);
	f->c = NULL;
}

/* Bump the first byte of the format record: in the layout environment of the
 * cache directory @dir (its "meta" DB), or of the shard in @dir (its unnamed
 * DB, in the meta key space: FORMAT: cache-key). */
static void bump_format(const char *dir, bool shard)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	raw_open(dir, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, shard ? NULL : "meta", 0, &dbi), 0);
	MDB_val k = shard ? (MDB_val){ 7, "\0format" } : (MDB_val){ 6, "format" }, v;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	uint8_t other[4];
	memcpy(other, v.mv_data, 4);
	other[0]++;
	v.mv_data = other;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
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

/* One name per shard, in shard order: the first "dN.com." that lands there. */
static void name_per_shard(struct fixture *f, char names[][32])
{
	unsigned n_found = 0;
	bool have[CACHE_SHARDS_MAX] = { false };
	for (int i = 0; n_found < f->c->n_shards; i++) {
		char text[32];
		snprintf(text, sizeof(text), "d%d.com.", i);
		int s = shard_of(f, text);
		if (!have[s]) {
			have[s] = true;
			strcpy(names[s], text);
			n_found++;
		}
	}
}

/* ---- another process: this program with --child DIR ----------------------- */

/* Commands on stdin, one per line, answers on stdout:
 *   stash NAME LAST  -> "ok"           find NAME -> the last address byte or -1
 *   ns ZONE          -> "ok"           cut NAME  -> the zone or "-"
 *   count            -> the entries    loop      -> stashes until killed */
static int child_main(const char *dir)
{
	struct cache *c;
	struct arena *a = arena_create(1 << 20);
	if (!a || cache_open(&c, dir, MAP_BYTES) != 0)
		return 1;
	char line[512], cmd[16], arg[300];
	int last;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		int n = sscanf(line, "%15s %299s %d", cmd, arg, &last);
		uint8_t name[256], zone[255];
		struct cache_entry e;
		if (n == 3 && strcmp(cmd, "stash") == 0) {
			stash_a(c, arg, (uint8_t)last, RANK_ANSWER, 300, NOW);
			printf("ok\n");
		} else if (n == 2 && strcmp(cmd, "find") == 0) {
			printf("%d\n", find_a_in(c, a, arg, NOW));
		} else if (n == 2 && strcmp(cmd, "ns") == 0) {
			stash_ns(c, arg, 3600, NOW);
			printf("ok\n");
		} else if (n == 2 && strcmp(cmd, "cut") == 0) {
			char text[256];
			if (cache_find_cut(c, wire(name, arg), NOW, a, zone, &e) == 0)
				printf("%s\n", text_of(text, zone));
			else
				printf("-\n");
		} else if (n == 1 && strcmp(cmd, "count") == 0) {
			printf("%zu\n", cache_count(c));
		} else if (n == 1 && strcmp(cmd, "loop") == 0) {
			printf("looping\n");
			for (unsigned i = 0;; i++) {
				char text[64];
				snprintf(text, sizeof(text), "busy%u.d%u.com.", i % 500, i % 7);
				stash_a(c, text, (uint8_t)i, RANK_ANSWER, 300, NOW);
			}
		} else {
			printf("?\n");
		}
	}
	cache_close(c);
	arena_destroy(a);
	return 0;
}

struct child {
	pid_t pid;
	FILE *to, *from;
};

static void child_start(struct child *ch, const char *dir)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execl("/proc/self/exe", "test_cache_files", "--child", dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ch->to = fdopen(in[1], "w");
	ch->from = fdopen(out[0], "r");
	assert_non_null(ch->to);
	assert_non_null(ch->from);
	setvbuf(ch->to, NULL, _IOLBF, 0);
}

/* Send a command and return the answer's line (static storage). */
static const char *child_ask(struct child *ch, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *child_ask(struct child *ch, const char *fmt, ...)
{
	static char line[512];
	va_list ap;
	va_start(ap, fmt);
	vfprintf(ch->to, fmt, ap);
	va_end(ap);
	fputc('\n', ch->to);
	fflush(ch->to);
	assert_non_null(fgets(line, sizeof(line), ch->from));
	line[strcspn(line, "\n")] = 0;
	return line;
}

static int child_stop(struct child *ch)
{
	fclose(ch->to);
	fclose(ch->from);
	int status;
	assert_int_equal(waitpid(ch->pid, &status, 0), ch->pid);
	return status;
}

/* ---- persistence ----------------------------------------------------------- */

static void test_cache_persists_across_reopen(void **state)
{
	struct fixture *f = *state;
	char z[256];
	uint8_t n[256], zone[255];
	struct cache_entry ns;
	stash_a(f->c, "example.com.", 4, RANK_ANSWER, 300, NOW);
	for (int i = 0; i < 100; i++) {
		char text[64];
		snprintf(text, sizeof(text), "www.d%d.com.", i);
		stash_a(f->c, text, (uint8_t)i, RANK_ANSWER, 300, NOW);
	}
	stash_ns(f->c, "example.com.", 3600, NOW);
	reopen(f);
	assert_int_equal(cache_count(f->c), 102);
	assert_int_equal(find_a(f, "example.com.", NOW + 1), 4);
	for (int i = 0; i < 100; i++) {
		char text[64];
		snprintf(text, sizeof(text), "www.d%d.com.", i);
		assert_int_equal(find_a(f, text, NOW + 1), i);
	}
	assert_int_equal(cache_find_cut(f->c, wire(n, "www.example.com."), NOW, f->a, zone, &ns), 0);
	assert_string_equal(text_of(z, zone), "example.com.");
}

static void test_cache_creates_missing_directories_private(void **state)
{
	struct fixture *f = *state;
	char dir[128], path[256];
	struct stat st;
	struct cache *c;
	snprintf(dir, sizeof(dir), "%s/a/b/c", f->dir);
	assert_int_equal(cache_open(&c, dir, MAP_BYTES), 0);
	cache_close(c);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	for (int i = 0; i < CACHE_SHARDS_DEFAULT; i++) {
		path_in(path, dir, i, "");
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	path_in(path, dir, CACHE_SHARDS_DEFAULT, "");
	assert_int_equal(stat(path, &st), -1);

	assert_int_equal(cache_open(&c, dir, CACHE_MIN_BYTES - 1), -EINVAL);
	struct cache_opts opts = { .max_bytes = 4 * CACHE_SHARD_MIN_BYTES - 1, .n_shards = 4 };
	assert_int_equal(cache_open_ex(&c, dir, &opts), -EINVAL);
	opts = (struct cache_opts){ .max_bytes = MAP_BYTES, .n_shards = CACHE_SHARDS_MAX + 1 };
	assert_int_equal(cache_open_ex(&c, dir, &opts), -EINVAL);
}

static void test_cache_takes_fewer_shards_when_small(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	struct cache *c;
	snprintf(dir, sizeof(dir), "%s/small", f->dir);
	assert_int_equal(cache_open(&c, dir, CACHE_MIN_BYTES), 0);
	assert_int_equal(c->n_shards, 1);
	cache_close(c);
	assert_int_equal(cache_open(&c, dir, 3 * CACHE_SHARD_MIN_BYTES), 0);
	assert_int_equal(c->n_shards, 3);
	cache_close(c);
}

/* Child processes that die by SIGKILL: once after committing, once while it
 * may be in the middle of a write transaction (holding LMDB's writer lock). */
static void test_cache_survives_kill_9_of_a_writer(void **state)
{
	struct fixture *f = *state;
	close_cache(f); /* LMDB: one open of an environment per process */

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

	struct child ch;
	child_start(&ch, f->dir);
	assert_string_equal(child_ask(&ch, "loop"), "looping");
	usleep(50 * 1000);
	kill(ch.pid, SIGKILL);
	assert_true(WIFSIGNALED(child_stop(&ch)));

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(find_a(f, "n0.example.com.", NOW), 0);
	assert_int_equal(find_a(f, "n99.example.com.", NOW), 99);
	stash_a(f->c, "after.example.com.", 7, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "after.example.com.", NOW), 7);
	for (int i = 0; i < 7; i++) {
		char text[64];
		snprintf(text, sizeof(text), "after.d%d.com.", i);
		stash_a(f->c, text, 8, RANK_ANSWER, 300, NOW);
		assert_int_equal(find_a(f, text, NOW), 8);
	}
}

/* ---- two processes on one directory ------------------------------------------- */

static void test_cache_is_shared_by_two_processes(void **state)
{
	struct fixture *f = *state;
	struct child ch;
	/* this process has the cache open, and read transactions on it */
	assert_int_equal(find_a(f, "www.d1.com.", NOW), -1);
	child_start(&ch, f->dir);

	/* what the parent learns, the child answers */
	for (int i = 0; i < 50; i++) {
		char text[64];
		snprintf(text, sizeof(text), "p%d.d%d.com.", i, i % 9);
		stash_a(f->c, text, (uint8_t)i, RANK_ANSWER, 300, NOW);
		char want[8];
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal(child_ask(&ch, "find %s", text), want);
	}
	/* and the other way round, read by this process's existing readers */
	for (int i = 0; i < 50; i++) {
		char text[64];
		snprintf(text, sizeof(text), "c%d.d%d.com.", i, i % 9);
		assert_string_equal(child_ask(&ch, "stash %s %d", text, i + 100), "ok");
		assert_int_equal(find_a(f, text, NOW), i + 100);
	}
	assert_string_equal(child_ask(&ch, "ns example.com."), "ok");
	stash_ns(f->c, "sub.example.com.", 3600, NOW);
	assert_string_equal(child_ask(&ch, "cut www.sub.example.com."), "sub.example.com.");
	uint8_t n[256], zone[255];
	char z[256];
	struct cache_entry ns;
	assert_int_equal(cache_find_cut(f->c, wire(n, "x.example.com."), NOW, f->a, zone, &ns), 0);
	assert_string_equal(text_of(z, zone), "example.com.");
	assert_string_equal(child_ask(&ch, "count"), "102");
	int status = child_stop(&ch);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(cache_count(f->c), 102);
}

static void test_cache_keeps_working_when_a_sharing_process_is_killed(void **state)
{
	struct fixture *f = *state;
	struct child ch;
	child_start(&ch, f->dir);
	assert_string_equal(child_ask(&ch, "stash before.d1.com. 5"), "ok");
	assert_string_equal(child_ask(&ch, "loop"), "looping");
	/* while the child writes, this process reads and writes too */
	for (int i = 0; i < 200; i++) {
		char text[64];
		snprintf(text, sizeof(text), "mine%d.d%d.com.", i, i % 7);
		stash_a(f->c, text, (uint8_t)i, RANK_ANSWER, 300, NOW);
		assert_int_equal(find_a(f, text, NOW), (uint8_t)i);
	}
	kill(ch.pid, SIGKILL);
	assert_true(WIFSIGNALED(child_stop(&ch)));
	/* the killed child may have held a writer lock: writes still go through */
	for (int i = 0; i < 7; i++) {
		char text[64];
		snprintf(text, sizeof(text), "after.d%d.com.", i);
		stash_a(f->c, text, 9, RANK_ANSWER, 300, NOW);
		assert_int_equal(find_a(f, text, NOW), 9);
	}
	assert_int_equal(find_a(f, "before.d1.com.", NOW), 5);
	/* and a new process finds all of it */
	child_start(&ch, f->dir);
	assert_string_equal(child_ask(&ch, "find after.d3.com."), "9");
	assert_string_equal(child_ask(&ch, "find mine199.d3.com."), "199");
	child_stop(&ch);
}

/* ---- the layout ------------------------------------------------------------- */

static void test_cache_rebuilds_on_other_shard_count(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct stat st;
	stash_many_a(f->c, 20, NOW);
	close_cache(f);

	struct cache_opts opts = { .max_bytes = MAP_BYTES, .n_shards = 2, .stale_s = 60 };
	assert_int_equal(cache_open_ex(&f->c, f->dir, &opts), 0);
	assert_int_equal(f->c->n_shards, 2);
	assert_int_equal(cache_count(f->c), 0);
	path_in(path, f->dir, 3, "");
	assert_int_equal(stat(path, &st), -1); /* the old shards are gone */
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	close_cache(f);

	/* the same count again: kept */
	assert_int_equal(cache_open_ex(&f->c, f->dir, &opts), 0);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
}

/* keep_layout: the count asked for is only for a new directory (ternd asks
 * for one shard per worker thread); one in use keeps its own, so a restart
 * with other threads keeps the cache and two processes agree. */
static void test_cache_keeps_the_shard_count_of_a_directory_in_use(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->c->n_shards, CACHE_SHARDS_DEFAULT);
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	close_cache(f);

	struct cache_opts opts = { .max_bytes = MAP_BYTES, .n_shards = 1, .keep_layout = true };
	assert_int_equal(cache_open_ex(&f->c, f->dir, &opts), 0);
	assert_int_equal(f->c->n_shards, CACHE_SHARDS_DEFAULT);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
	/* a second process asking for another count shares the same shards */
	struct cache *other;
	opts.n_shards = 2;
	assert_int_equal(cache_open_ex(&other, f->dir, &opts), 0);
	assert_int_equal(other->n_shards, CACHE_SHARDS_DEFAULT);
	cache_close(other);
	close_cache(f);

	/* a new directory takes the count asked for */
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/new", f->dir);
	opts.n_shards = 1;
	assert_int_equal(cache_open_ex(&other, dir, &opts), 0);
	assert_int_equal(other->n_shards, 1);
	cache_close(other);

	/* a layout whose shards no longer fit in the size: rebuilt as asked */
	opts = (struct cache_opts){ .max_bytes = 2 * CACHE_SHARD_MIN_BYTES, .n_shards = 1,
				    .keep_layout = true };
	assert_int_equal(cache_open_ex(&f->c, f->dir, &opts), 0);
	assert_int_equal(f->c->n_shards, 1);
	assert_int_equal(cache_count(f->c), 0);
}

static void test_cache_starts_empty_on_other_format_version(void **state)
{
	struct fixture *f = *state;
	stash_many_a(f->c, 20, NOW);
	close_cache(f);
	bump_format(f->dir, false);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(f->c), 0);
	assert_int_equal(find_a(f, "n1.example.com.", NOW), -1);
	/* the fresh cache works and keeps its format */
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	reopen(f);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
}

static void test_cache_starts_empty_on_layout_without_format(void **state)
{
	struct fixture *f = *state;
	stash_a(f->c, "example.com.", 4, RANK_ANSWER, 300, NOW);
	close_cache(f);

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	raw_open(f->dir, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	MDB_val k = { 6, "format" };
	assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(f->c), 0);
}

/* A directory written by the single-environment cache (format 1). */
static void test_cache_replaces_a_format_1_cache(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/v1", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, rrsets;
	raw_open(dir, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "rrsets", MDB_CREATE, &rrsets), 0);
	MDB_val k = { 6, "format" }, v = { 4, "\1\0\0\0" };
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	k = (MDB_val){ 5, "com\0\0" };
	v = (MDB_val){ 24, "\1\1\4\0........\x2c\1\0\0\0\0\0\0\0\0\0\0" };
	assert_int_equal(mdb_put(txn, rrsets, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	struct cache *c;
	assert_int_equal(cache_open(&c, dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(c), 0);
	stash_a(c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	cache_close(c);
	assert_int_equal(cache_open(&c, dir, MAP_BYTES), 0);
	assert_int_equal(find_a_in(c, f->a, "example.com.", NOW), 5);
	cache_close(c);
}

/* ---- damaged files: the cache, or the one shard, starts empty ---------------------- */

static void test_cache_replaces_only_a_shard_of_another_format(void **state)
{
	struct fixture *f = *state;
	char names[CACHE_SHARDS_MAX][32], dir[256];
	name_per_shard(f, names);
	for (unsigned i = 0; i < f->c->n_shards; i++)
		stash_a(f->c, names[i], (uint8_t)i, RANK_ANSWER, 300, NOW);
	close_cache(f);
	path_in(dir, f->dir, 1, "");
	bump_format(dir, true);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	for (int i = 0; i < CACHE_SHARDS_DEFAULT; i++)
		assert_int_equal(find_a(f, names[i], NOW), i == 1 ? -1 : i);
}

static void test_cache_starts_empty_on_garbage_layout_file(void **state)
{
	struct fixture *f = *state;
	char path[256];
	stash_many_a(f->c, 100, NOW);
	close_cache(f);
	path_in(path, f->dir, -1, "data.mdb");
	fill_file(path, 0, 16 * 1024, 1);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(cache_count(f->c), 0); /* the secret is lost: every shard goes */
	stash_a(f->c, "example.com.", 5, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW), 5);
}

static void test_cache_replaces_only_a_garbage_shard(void **state)
{
	struct fixture *f = *state;
	char names[CACHE_SHARDS_MAX][32], path[256];
	name_per_shard(f, names);
	for (unsigned i = 0; i < f->c->n_shards; i++)
		stash_a(f->c, names[i], (uint8_t)i, RANK_ANSWER, 300, NOW);
	close_cache(f);
	path_in(path, f->dir, 2, "data.mdb");
	fill_file(path, 0, 64 * 1024, 1);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	for (int i = 0; i < CACHE_SHARDS_DEFAULT; i++)
		assert_int_equal(find_a(f, names[i], NOW), i == 2 ? -1 : i);
	stash_a(f->c, names[2], 9, RANK_ANSWER, 300, NOW);
	assert_int_equal(find_a(f, names[2], NOW), 9);
}

static void test_cache_starts_empty_on_garbage_lock_files(void **state)
{
	struct fixture *f = *state;
	char path[256];
	close_cache(f);
	path_in(path, f->dir, -1, "lock.mdb");
	fill_file(path, 0, 8192, 2);
	path_in(path, f->dir, 0, "lock.mdb");
	fill_file(path, 0, 8192, 3);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	for (int i = 0; i < 20; i++) {
		char text[64];
		snprintf(text, sizeof(text), "d%d.com.", i);
		stash_a(f->c, text, 5, RANK_ANSWER, 300, NOW);
		assert_int_equal(find_a(f, text, NOW), 5);
	}
}

static void test_cache_starts_empty_on_truncated_file(void **state)
{
	struct fixture *f = *state;
	char path[256];
	static const off_t sizes[] = { 5 * 4096, 100, 0 };
	int shard = shard_of(f, "n7.example.com.");
	path_in(path, f->dir, shard, "data.mdb");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		stash_many_a(f->c, 500, NOW);
		close_cache(f);
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
	uint8_t n[256], key[KEY_DB_MAX];
	char dir[256];
	stash_a(f->c, "example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_a(f->c, "www.example.com.", 1, RANK_ANSWER, 300, NOW);
	stash_ns(f->c, "example.com.", 3600, NOW);
	path_in(dir, f->dir, shard_of(f, "example.com."), "");
	close_cache(f);

	/* overwrite the values with well-sized headers that lie about lengths */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	raw_open(dir, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	static const char *const names[] = { "example.com.", "www.example.com." };
	size_t domain_len;
	for (int i = 0; i < 2; i++) {
		MDB_val k = { (size_t)key_locate(key, wire(n, names[i]), 1, &domain_len), key }, v;
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
		uint8_t copy[64];
		assert_true(v.mv_size <= sizeof(copy));
		memcpy(copy, v.mv_data, v.mv_size);
		if (i == 0)
			copy[16]++; /* n_rdata one more than the payload holds */
		else
			copy[20 + 1]++; /* the rdlen inside the payload */
		v.mv_data = copy;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	/* one value too short for a header, and an NS entry cut short */
	wire(n, "short.example.com.");
	MDB_val k = { (size_t)key_locate(key, n, 1, &domain_len), key }, v = { 3, "abc" };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	k = (MDB_val){ (size_t)key_locate(key, wire(n, "example.com."), KEY_TYPE_NS, &domain_len),
		       key };
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	v.mv_size--;
	uint8_t copy[64];
	memcpy(copy, v.mv_data, v.mv_size);
	v.mv_data = copy;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
	assert_int_equal(find_a(f, "example.com.", NOW), -1);
	assert_int_equal(find_a(f, "www.example.com.", NOW), -1);
	assert_int_equal(find_a(f, "short.example.com.", NOW), -1);
	uint8_t zone[255];
	struct cache_entry ns;
	assert_int_equal(cache_find_cut(f->c, wire(n, "www.example.com."), NOW, f->a, zone, &ns),
			 TERN_ENOTFOUND);
	/* even glue replaces what cannot be read */
	stash_a(f->c, "example.com.", 9, RANK_ADDITIONAL, 300, NOW);
	assert_int_equal(find_a(f, "example.com.", NOW), 9);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2]);
	/* the recovery tests warn on purpose */
	log_threshold = getenv("TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR;
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_cache_persists_across_reopen),
		T(test_cache_creates_missing_directories_private),
		T(test_cache_takes_fewer_shards_when_small),
		T(test_cache_survives_kill_9_of_a_writer),
		T(test_cache_is_shared_by_two_processes),
		T(test_cache_keeps_working_when_a_sharing_process_is_killed),
		T(test_cache_rebuilds_on_other_shard_count),
		T(test_cache_keeps_the_shard_count_of_a_directory_in_use),
		T(test_cache_starts_empty_on_other_format_version),
		T(test_cache_starts_empty_on_layout_without_format),
		T(test_cache_replaces_a_format_1_cache),
		T(test_cache_replaces_only_a_shard_of_another_format),
		T(test_cache_starts_empty_on_garbage_layout_file),
		T(test_cache_replaces_only_a_garbage_shard),
		T(test_cache_starts_empty_on_garbage_lock_files),
		T(test_cache_starts_empty_on_truncated_file),
		T(test_cache_treats_damaged_entry_as_absent),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
