/* cache/env: opening an LMDB environment of the cache: flags, limits, and the
 * checks that tell a damaged file from a problem of the moment. The callers
 * (cache.c for the layout, shard.c for shards) decide what to do with a
 * damaged one: remove it and start empty. */
#include "cache/env.h"
#include "cache/gen.h"
#include "cache/key.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Environment flags. It is a cache: losing recent writes in an OS crash is fine,
 * losing them when the process is killed is not.
 * - MDB_WRITEMAP: commits write straight into the shared file mapping. Those
 *   pages belong to the kernel's page cache, so they survive kill -9 of the
 *   process; only an OS crash can lose them. It also makes LMDB size the file to
 *   the whole map, so a truncated file reads as zeros instead of raising SIGBUS.
 *   The price: the map is writable, so a stray pointer write in this process
 *   could damage it; cache_entry_decode() keeps such damage from being misread.
 * - MDB_NOSYNC (which implies MDB_NOMETASYNC): no fsync/msync per commit, for
 *   the same reason. After an OS crash the files may be inconsistent; the
 *   checks here and in cache_entry_decode() catch what they can, and a cache
 *   directory on tmpfs (the default) does not outlive the OS anyway.
 * - MDB_NOTLS: read transactions belong to our per-thread readers, not to
 *   LMDB's thread-local slots, so one can be reset and renewed for every read.
 * - MDB_NORDAHEAD: lookups are random; readahead would only evict hot pages. */
#define ENV_FLAGS (MDB_WRITEMAP | MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD)

int env_mkdir(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char saved = path[i];
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		path[i] = saved;
	}
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int file_path(char out[PATH_MAX], const char *dir, const char *file)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, file);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int env_remove(const char *dir)
{
	/* and the write generations that belong to the environment (cache/gen) */
	static const char *const files[] = { "data.mdb", "lock.mdb", GEN_FILE };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX];
		int rc = file_path(path, dir, files[i]);
		if (rc)
			return rc;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* Whether @rc says that the files are not (or no longer) a usable LMDB
 * environment, as opposed to a problem of the moment (EMFILE, EACCES, too many
 * readers). */
static bool is_damage(int rc)
{
	switch (rc) {
	case MDB_INVALID:          /* not an LMDB file (garbage, or cut short) */
	case MDB_VERSION_MISMATCH: /* written by another LMDB file format */
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_PANIC:
	case MDB_INCOMPATIBLE:     /* e.g. "meta" is a plain key, not a DB */
	case MDB_BAD_DBI:
	case MDB_BAD_TXN:
	case MDB_MAP_FULL:         /* the file's data does not fit the map */
		return true;
	}
	return false;
}

int env_failure(int rc, const char *dir, const char **why)
{
	if (is_damage(rc)) {
		*why = mdb_strerror(rc);
		return TERN_EMALFORMED;
	}
	/* EACCES, EMFILE, MDB_READERS_FULL...: nothing wrong with the files, so
	 * they are kept and the caller hears of it */
	log_err("cache: cannot open %s: %s", dir, mdb_strerror(rc));
	return rc > 0 ? -rc : -EIO;
}

int env_open(MDB_env **out, const char *dir, size_t map_bytes, unsigned max_dbs, const char **why)
{
	char data_path[PATH_MAX];
	int rc = file_path(data_path, dir, "data.mdb");
	if (rc)
		return rc;
	/* Size before LMDB extends the file to the map (MDB_WRITEMAP). */
	struct stat st;
	off_t file_size = stat(data_path, &st) == 0 ? st.st_size : 0;

	MDB_env *env;
	rc = mdb_env_create(&env);
	if (rc)
		return env_failure(rc, dir, why);
	if ((rc = mdb_env_set_maxdbs(env, max_dbs)) ||
	    (rc = mdb_env_set_maxreaders(env, READERS_MAX)) ||
	    (rc = mdb_env_set_mapsize(env, map_bytes)) ||
	    (rc = mdb_env_open(env, dir, ENV_FLAGS, 0600))) {
		rc = env_failure(rc, dir, why);
		goto fail_close;
	}
	if (mdb_env_get_maxkeysize(env) < KEY_DB_MAX) {
		log_err("cache: LMDB built with keys shorter than %d bytes", KEY_DB_MAX);
		rc = -ENOTSUP;
		goto fail_close;
	}
	/* LMDB 0.9 cannot tell a truncated file: its pages would read as zeros. */
	MDB_envinfo info;
	MDB_stat est;
	if (file_size > 0 && mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &est) == 0 &&
	    ((uint64_t)info.me_last_pgno + 1) * est.ms_psize > (uint64_t)file_size) {
		*why = "data file truncated";
		rc = TERN_EMALFORMED;
		goto fail_close;
	}
	/* Reader slots of processes killed while reading would pin old pages
	 * forever (and fill the table): clear them. */
	int n_dead;
	mdb_reader_check(env, &n_dead);
	*out = env;
	return 0;

fail_close:
	mdb_env_close(env);
	return rc;
}
