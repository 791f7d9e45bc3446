/* cache/cache: RRsets in LMDB, keyed by cache/key, with the rank and expiry rules
 * of RFC 2181 5.4.1 and RFC 2308. The resolver's lookup stage reads through
 * cache_find() and its store stage writes through cache_stash_many(). This file
 * knows no query and no server, and never logs a name. One shard (one LMDB
 * environment) for now; struct shard is the unit that sharding will multiply. */
#include "cache/cache.h"
#include "cache/key.h"
#include "base/arena.h"
#include "base/err.h"
#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* FORMAT: cache-key, cache-entry, cache-payload: bump on any change to them.
 * Stored in the "meta" DB (a mismatch recreates the cache) and as the first
 * byte of every entry (an entry of another format is never misread). */
#define CACHE_FORMAT 1

#define DB_META "meta"
#define DB_RRSETS "rrsets"
#define META_FORMAT_KEY "format"

#define READERS_MAX 1024 /* LMDB reader slots: one per thread per process (default 126) */
#define SWEEP_MAX 4096   /* entries looked at per sweep for expired ones: bounds the write txn */
/* An RRset with its signatures, or an SOA, came from one DNS message, which is at
 * most 65535 bytes (RFC 1035 4.2.2); the payload is smaller than that message. */
#define ENTRY_DATA_MAX 65535

/* Environment flags. It is a cache: losing recent writes in an OS crash is fine,
 * losing them when the process is killed is not.
 * - MDB_WRITEMAP: commits write straight into the shared file mapping. Those
 *   pages belong to the kernel's page cache, so they survive kill -9 of the
 *   process; only an OS crash can lose them. It also makes LMDB size the file to
 *   the whole map, so a truncated file reads as zeros instead of raising SIGBUS.
 *   The price: the map is writable, so a stray pointer write in this process
 *   could damage it; entry_decode() keeps such damage from being misread.
 * - MDB_NOSYNC (which implies MDB_NOMETASYNC): no fsync/msync per commit, for
 *   the same reason. After an OS crash the files may be inconsistent; the
 *   checks in env_open() and entry_decode() catch what they can, and a cache
 *   directory on tmpfs (the default) does not outlive the OS anyway.
 * - MDB_NOTLS: read transactions belong to our per-thread readers, not to
 *   LMDB's thread-local slots, so one can be reset and renewed for every find.
 * - MDB_NORDAHEAD: lookups are random; readahead would only evict hot pages. */
#define ENV_FLAGS (MDB_WRITEMAP | MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD)

/* A thread's read transaction on one shard: reset after every use so that it
 * pins no old snapshot, renewed on the next. */
struct reader {
	MDB_txn *txn;
	struct shard *shard;
	struct reader *prev, *next;
};

struct shard {
	MDB_env *env;
	MDB_dbi dbi;      /* DB_RRSETS */
	MDB_dbi dbi_meta; /* DB_META */
	pthread_key_t reader_key;
	/* Guards the reader list; taken only when a thread first reads this shard,
	 * when it exits, and at close: never per lookup. */
	pthread_mutex_t readers_lock;
	struct reader *readers;
	/* Where the last sweep stopped. Touched only inside a write transaction,
	 * so LMDB's writer lock guards it. */
	uint8_t sweep_at[KEY_MAX];
	size_t sweep_at_len;
	atomic_bool damage_logged;
};

struct cache {
	struct shard shard; /* sharding turns this into an array picked by shard_of() */
};

/* ---- FORMAT: cache-entry --------------------------------------------------
 * The LMDB value: a 24-byte header, little-endian, then data_len payload bytes
 * (FORMAT: cache-payload, in cache.h).
 *   0  u8  format (CACHE_FORMAT)
 *   1  u8  kind (enum cache_kind)
 *   2  u8  rank (enum rank)
 *   3  u8  verdict (enum verdict)
 *   4  u64 expire_at_s (absolute, wall clock)
 *  12  u32 orig_ttl_s
 *  16  u16 n_rdata
 *  18  u16 n_sigs
 *  20  u32 data_len (== value size - 24)
 *  24  payload
 * LMDB values may be unaligned: every field goes through memcpy. */
#define ENTRY_HDR_LEN 24

struct entry_hdr {
	uint8_t format, kind, rank, verdict;
	uint64_t expire_at_s;
	uint32_t orig_ttl_s;
	uint16_t n_rdata, n_sigs;
	uint32_t data_len;
};

static uint16_t get_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }
static void put_u16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put_u32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

/* FORMAT: cache-payload. Whether @data holds exactly what cache.h describes for
 * @kind. Checked on stash (garbage is never stored) and on every read (a damaged
 * file is never trusted). */
static bool payload_ok(uint8_t kind, uint16_t n_rdata, uint16_t n_sigs, const uint8_t *data,
		       uint32_t len)
{
	size_t pos = 0;
	if (kind == CACHE_RRSET) {
		if (n_rdata == 0)
			return false;
		for (uint32_t i = 0; i < (uint32_t)n_rdata + n_sigs; i++) {
			if (len - pos < 2)
				return false;
			size_t rdlen = (size_t)data[pos] << 8 | data[pos + 1];
			pos += 2;
			if (len - pos < rdlen)
				return false;
			pos += rdlen;
		}
		return pos == len;
	}
	if (len == 0)
		return true;
	int name_len = key_name_len(data, len);
	if (name_len < 0)
		return false;
	pos = (size_t)name_len;
	if (len - pos < 2)
		return false;
	size_t rdlen = (size_t)data[pos] << 8 | data[pos + 1];
	return len - pos - 2 == rdlen;
}

/* Whether the fields of an entry agree with each other and with the @type of
 * its key. RFC 6895: type 0 is reserved, so it can only mean our NXDOMAIN. */
static bool fields_ok(uint16_t type, uint8_t kind, uint8_t rank, uint8_t verdict)
{
	if (kind != CACHE_RRSET && kind != CACHE_NODATA && kind != CACHE_NXDOMAIN)
		return false;
	if ((kind == CACHE_NXDOMAIN) != (type == CACHE_TYPE_NXDOMAIN))
		return false;
	return rank <= RANK_ANSWER && verdict <= VERDICT_INDETERMINATE;
}

/* FORMAT: cache-entry. Decode the value @v stored under a key of @type into @h.
 * false: it is not a value we wrote (other format, damaged file); treat it as
 * absent, and let the next write over it or the next sweep delete it. */
static bool entry_decode(struct entry_hdr *h, const MDB_val *v, uint16_t type)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < ENTRY_HDR_LEN)
		return false;
	h->format = p[0];
	h->kind = p[1];
	h->rank = p[2];
	h->verdict = p[3];
	h->expire_at_s = get_u64(p + 4);
	h->orig_ttl_s = get_u32(p + 12);
	h->n_rdata = get_u16(p + 16);
	h->n_sigs = get_u16(p + 18);
	h->data_len = get_u32(p + 20);
	if (h->format != CACHE_FORMAT || h->data_len != v->mv_size - ENTRY_HDR_LEN ||
	    h->data_len > ENTRY_DATA_MAX)
		return false;
	if (!fields_ok(type, h->kind, h->rank, h->verdict))
		return false;
	return payload_ok(h->kind, h->n_rdata, h->n_sigs, p + ENTRY_HDR_LEN, h->data_len);
}

/* FORMAT: cache-entry. Write @e, expiring at @expire_at_s, into @out
 * (ENTRY_HDR_LEN + e->data_len bytes, reserved in the map). */
static void entry_encode(uint8_t *out, const struct cache_entry *e, uint64_t expire_at_s)
{
	out[0] = CACHE_FORMAT;
	out[1] = e->kind;
	out[2] = e->rank;
	out[3] = e->verdict;
	put_u64(out + 4, expire_at_s);
	put_u32(out + 12, e->ttl_s);
	put_u16(out + 16, e->n_rdata);
	put_u16(out + 18, e->n_sigs);
	put_u32(out + 20, e->data_len);
	if (e->data_len)
		memcpy(out + ENTRY_HDR_LEN, e->data, e->data_len);
}

/* FORMAT: cache-key. The type is the key's last two bytes, big-endian. */
static bool key_type_of(const MDB_val *k, uint16_t *type)
{
	const uint8_t *p = k->mv_data;
	if (k->mv_size < 3)
		return false;
	*type = (uint16_t)(p[k->mv_size - 2] << 8 | p[k->mv_size - 1]);
	return true;
}

/* ---- errors ------------------------------------------------------------ */

/* Map an LMDB result to ours: errno values become -errno; LMDB's own codes
 * (-30800 and below) become TERN_ELIMIT when a limit was hit, -EIO otherwise.
 * The latter mean a damaged file: said once per shard, not once per lookup. */
static int err_from_mdb(struct shard *s, int rc)
{
	switch (rc) {
	case 0: return 0;
	case MDB_NOTFOUND: return TERN_ENOTFOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_READERS_FULL:
	case MDB_DBS_FULL: return TERN_ELIMIT;
	}
	if (rc > 0)
		return -rc;
	if (!atomic_exchange(&s->damage_logged, true))
		log_err("cache: LMDB: %s (not repeated)", mdb_strerror(rc));
	return -EIO;
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

/* ---- readers: one read transaction per thread per shard -------------- */

static void reader_unlink(struct shard *s, struct reader *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		s->readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* pthread key destructor: the thread exits while the shard is open. */
static void reader_exit(void *arg)
{
	struct reader *r = arg;
	pthread_mutex_lock(&r->shard->readers_lock);
	reader_unlink(r->shard, r);
	pthread_mutex_unlock(&r->shard->readers_lock);
	mdb_txn_abort(r->txn);
	free(r);
}

/* A read transaction for this thread, ready for use. Give it back with
 * reader_end(). Returns NULL and sets *@rc (an LMDB code) on failure. */
static MDB_txn *reader_begin(struct shard *s, int *rc)
{
	struct reader *r = pthread_getspecific(s->reader_key);
	if (r) {
		*rc = mdb_txn_renew(r->txn);
		if (*rc == 0)
			return r->txn;
		/* start over with a fresh transaction */
		pthread_setspecific(s->reader_key, NULL);
		reader_exit(r);
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		*rc = ENOMEM;
		return NULL;
	}
	*rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
	if (*rc) {
		free(r);
		return NULL;
	}
	*rc = pthread_setspecific(s->reader_key, r);
	if (*rc) {
		mdb_txn_abort(r->txn);
		free(r);
		return NULL;
	}
	r->shard = s;
	pthread_mutex_lock(&s->readers_lock);
	r->next = s->readers;
	if (r->next)
		r->next->prev = r;
	s->readers = r;
	pthread_mutex_unlock(&s->readers_lock);
	return r->txn;
}

/* Release the snapshot; the transaction stays with the thread for next time. */
static void reader_end(MDB_txn *txn)
{
	mdb_txn_reset(txn);
}

/* ---- opening: directory, environment, format check -------------------- */

/* mkdir -p @dir, creating what is missing with mode 0700 (the cache holds the
 * names users looked up). */
static int mkdir_p(const char *dir)
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

/* Delete the environment's files (only those: the directory may hold others). */
static int env_remove(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
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

static int format_write(MDB_txn *txn, MDB_dbi meta)
{
	/* FORMAT: cache-key, cache-entry */
	uint8_t buf[4];
	put_u32(buf, CACHE_FORMAT);
	MDB_val k = { sizeof(META_FORMAT_KEY) - 1, (void *)META_FORMAT_KEY };
	MDB_val v = { sizeof(buf), buf };
	return mdb_put(txn, meta, &k, &v, 0);
}

/* The format check, in the transaction that opens the DBs. Returns 0, or
 * TERN_EMALFORMED with *@why set when the files hold another format. */
static int format_check(MDB_txn *txn, MDB_dbi meta, MDB_dbi rrsets, const char **why)
{
	/* FORMAT: cache-key, cache-entry */
	MDB_val k = { sizeof(META_FORMAT_KEY) - 1, (void *)META_FORMAT_KEY };
	MDB_val v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		MDB_stat st;
		rc = mdb_stat(txn, rrsets, &st);
		if (rc)
			return rc;
		if (st.ms_entries > 0) {
			*why = "entries without a format version";
			return TERN_EMALFORMED;
		}
		return format_write(txn, meta);
	}
	if (rc)
		return rc;
	if (v.mv_size != 4 || get_u32(v.mv_data) != CACHE_FORMAT) {
		*why = "another format version";
		return TERN_EMALFORMED;
	}
	return 0;
}

/* The result of env_open() for the LMDB result @rc. */
static int open_failure(int rc, const char *dir, const char **why)
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

/* Open the environment in @dir and check its format.
 * Returns 0; TERN_EMALFORMED with *@why set when the files are unusable and
 * should be recreated; or another negative error. */
static int env_open(struct shard *s, const char *dir, size_t map_bytes, const char **why)
{
	char data_path[PATH_MAX];
	int rc = file_path(data_path, dir, "data.mdb");
	if (rc)
		return rc;
	/* Size before LMDB extends the file to the map (MDB_WRITEMAP). */
	struct stat st;
	off_t file_size = stat(data_path, &st) == 0 ? st.st_size : 0;
	atomic_init(&s->damage_logged, false);

	rc = mdb_env_create(&s->env);
	if (rc)
		return err_from_mdb(s, rc);
	if ((rc = mdb_env_set_maxdbs(s->env, 2)) ||
	    (rc = mdb_env_set_maxreaders(s->env, READERS_MAX)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_bytes))) {
		rc = err_from_mdb(s, rc);
		goto fail_close;
	}
	rc = mdb_env_open(s->env, dir, ENV_FLAGS, 0600);
	if (rc) {
		rc = open_failure(rc, dir, why);
		goto fail_close;
	}
	if (mdb_env_get_maxkeysize(s->env) < KEY_MAX) {
		log_err("cache: LMDB built with keys shorter than %d bytes", KEY_MAX);
		rc = -ENOTSUP;
		goto fail_close;
	}
	/* LMDB 0.9 cannot tell a truncated file: its pages would read as zeros. */
	MDB_envinfo info;
	MDB_stat est;
	if (file_size > 0 && mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &est) == 0 &&
	    ((uint64_t)info.me_last_pgno + 1) * est.ms_psize > (uint64_t)file_size) {
		*why = "data file truncated";
		rc = TERN_EMALFORMED;
		goto fail_close;
	}

	MDB_txn *txn;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc) {
		rc = open_failure(rc, dir, why);
		goto fail_close;
	}
	rc = mdb_dbi_open(txn, DB_META, MDB_CREATE, &s->dbi_meta);
	if (rc == 0)
		rc = mdb_dbi_open(txn, DB_RRSETS, MDB_CREATE, &s->dbi);
	if (rc == 0)
		rc = format_check(txn, s->dbi_meta, s->dbi, why);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc == 0)
		return 0;
	if (rc != TERN_EMALFORMED)
		rc = open_failure(rc, dir, why);
fail_close:
	mdb_env_close(s->env);
	s->env = NULL;
	return rc;
}

static int shard_open(struct shard *s, const char *dir, size_t map_bytes)
{
	const char *why = NULL;
	int rc = env_open(s, dir, map_bytes, &why);
	if (rc == TERN_EMALFORMED) {
		/* Another process that still has the old files open keeps its own
		 * (unlinked) copy; from here on we share nothing with it. */
		log_warn("cache: %s in %s: starting with an empty cache", why, dir);
		rc = env_remove(dir);
		if (rc == 0)
			rc = env_open(s, dir, map_bytes, &why);
		if (rc == TERN_EMALFORMED) {
			log_err("cache: cannot create a cache in %s: %s", dir, why);
			rc = -EIO;
		}
	}
	if (rc)
		return rc;
	rc = -pthread_key_create(&s->reader_key, reader_exit);
	if (rc)
		goto fail_env;
	rc = -pthread_mutex_init(&s->readers_lock, NULL);
	if (rc)
		goto fail_key;
	s->readers = NULL;
	s->sweep_at_len = 0;
	return 0;

fail_key:
	pthread_key_delete(s->reader_key);
fail_env:
	mdb_env_close(s->env);
	return rc;
}

static void shard_close(struct shard *s)
{
	/* No destructor runs after this; the readers left are ours to end. */
	pthread_key_delete(s->reader_key);
	pthread_mutex_lock(&s->readers_lock);
	while (s->readers) {
		struct reader *r = s->readers;
		reader_unlink(s, r);
		mdb_txn_abort(r->txn);
		free(r);
	}
	pthread_mutex_unlock(&s->readers_lock);
	pthread_mutex_destroy(&s->readers_lock);
	mdb_env_close(s->env);
}

static struct shard *shard_of(struct cache *c, const uint8_t *key, size_t len)
{
	return &c->shard;
}

int cache_open(struct cache **out, const char *dir, size_t max_bytes)
{
	if (max_bytes < CACHE_MIN_BYTES)
		return -EINVAL;
	long page = sysconf(_SC_PAGESIZE);
	if (page > 0 && max_bytes % (size_t)page)
		max_bytes += (size_t)page - max_bytes % (size_t)page;
	int rc = mkdir_p(dir);
	if (rc) {
		log_err("cache: cannot create %s: %s", dir, tern_strerror(rc));
		return rc;
	}
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = shard_open(&c->shard, dir, max_bytes);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	shard_close(&c->shard);
	free(c);
}

/* ---- writing ----------------------------------------------------------- */

/* Whether @p may be stored at all: a name, fields and payload that we could read
 * back. Entries with TTL 0 are skipped, not stored, so they are not checked. */
static bool put_ok(const struct cache_put *p)
{
	const struct cache_entry *e = &p->entry;
	if (e->ttl_s == 0)
		return true;
	if (key_name_len(p->name, KEY_NAME_MAX) < 0)
		return false;
	if (!fields_ok(p->type, e->kind, e->rank, e->verdict) || e->data_len > ENTRY_DATA_MAX)
		return false;
	if (e->data_len && !e->data)
		return false;
	return payload_ok(e->kind, e->n_rdata, e->n_sigs, e->data, e->data_len);
}

/* RFC 2181 5.4.1: data of a higher rank replaces lower, never the reverse
 * while the stored data is fresh (an answer is not replaced by glue). An
 * expired or unreadable entry is replaced by anything. */
static bool may_replace(const MDB_val *old, uint16_t type, uint8_t new_rank, uint64_t now_s)
{
	struct entry_hdr h;
	if (!entry_decode(&h, old, type))
		return true;
	return h.expire_at_s <= now_s || new_rank >= h.rank;
}

/* All of @puts in one write transaction. Returns an LMDB code. */
static int shard_stash(struct shard *s, const struct cache_put *puts, size_t n, uint64_t now_s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct cache_put *p = &puts[i];
		if (p->entry.ttl_s == 0 || !put_ok(p))
			continue;
		uint8_t kbuf[KEY_MAX];
		int klen = key_encode(kbuf, p->name, p->type);
		if (klen < 0)
			continue; /* put_ok() has checked it */
		MDB_val k = { (size_t)klen, kbuf };
		MDB_val v;
		rc = mdb_get(txn, s->dbi, &k, &v);
		if (rc == 0 && !may_replace(&v, p->type, p->entry.rank, now_s))
			continue;
		if (rc && rc != MDB_NOTFOUND)
			goto fail_abort;
		v.mv_size = ENTRY_HDR_LEN + p->entry.data_len;
		rc = mdb_put(txn, s->dbi, &k, &v, MDB_RESERVE);
		if (rc)
			goto fail_abort;
		entry_encode(v.mv_data, &p->entry, now_s + p->entry.ttl_s);
	}
	return mdb_txn_commit(txn);

fail_abort:
	mdb_txn_abort(txn);
	return rc;
}

/* Delete expired and unreadable entries, looking at no more than SWEEP_MAX,
 * starting where the last sweep stopped and wrapping around once.
 * Returns the number deleted, or a negative LMDB code. */
static long shard_sweep(struct shard *s, uint64_t now_s)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	long n_deleted = 0;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	rc = mdb_cursor_open(txn, s->dbi, &cur);
	if (rc)
		goto fail_abort;
	MDB_val k = { s->sweep_at_len, s->sweep_at }, v;
	rc = mdb_cursor_get(cur, &k, &v, s->sweep_at_len ? MDB_SET_RANGE : MDB_FIRST);
	bool wrapped = s->sweep_at_len == 0;
	for (int looked = 0; looked < SWEEP_MAX; looked++) {
		if (rc == MDB_NOTFOUND && !wrapped) {
			wrapped = true;
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		}
		if (rc)
			break;
		uint16_t type;
		struct entry_hdr h;
		if (!key_type_of(&k, &type) || !entry_decode(&h, &v, type) ||
		    h.expire_at_s <= now_s) {
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				goto fail_cursor;
			n_deleted++;
		}
		/* after a delete the cursor already sits on the next entry; LMDB's
		 * MDB_NEXT knows this and does not skip it */
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && k.mv_size <= sizeof(s->sweep_at)) {
		memcpy(s->sweep_at, k.mv_data, k.mv_size);
		s->sweep_at_len = k.mv_size;
	} else if (rc == 0 || rc == MDB_NOTFOUND) {
		s->sweep_at_len = 0;
	} else {
		goto fail_cursor;
	}
	mdb_cursor_close(cur);
	rc = mdb_txn_commit(txn);
	return rc ? rc : n_deleted;

fail_cursor:
	mdb_cursor_close(cur);
fail_abort:
	mdb_txn_abort(txn);
	return rc;
}

/* A small write transaction of its own: rewrite the format record. */
static int shard_tick(struct shard *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	rc = format_write(txn, s->dbi_meta);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int cache_stash_many(struct cache *c, const struct cache_put *puts, size_t n, uint64_t now_s)
{
	/* A bad put (say, an RR of reserved type 0 from a hostile upstream) costs
	 * only itself, not the rest of the batch. */
	size_t n_bad = 0;
	for (size_t i = 0; i < n; i++)
		n_bad += !put_ok(&puts[i]);
	if (n_bad == n)
		return n ? TERN_EMALFORMED : 0;
	/* With shards, the puts would be grouped by shard_of() their key here. */
	struct shard *s = shard_of(c, NULL, 0);
	int rc = shard_stash(s, puts, n, now_s);
	if (rc == MDB_MAP_FULL) {
		/* Pages freed by transaction N are reusable from N+2 on: until then
		 * LMDB's other meta page still points at the snapshot that used them.
		 * Hence the sweep, a commit that only moves the transaction ID on, and
		 * then the one retry. */
		if (shard_sweep(s, now_s) > 0 && shard_tick(s) == 0)
			rc = shard_stash(s, puts, n, now_s);
		if (rc == MDB_MAP_FULL) {
			log_debug("cache: full, %zu records not stored", n);
			rc = 0;
		}
	}
	if (rc)
		return err_from_mdb(s, rc);
	return n_bad ? TERN_EMALFORMED : 0;
}

int cache_stash(struct cache *c, const uint8_t *name, uint16_t type, const struct cache_entry *e,
		uint64_t now_s)
{
	struct cache_put p = { .name = name, .type = type, .entry = *e };
	return cache_stash_many(c, &p, 1, now_s);
}

/* ---- reading ----------------------------------------------------------- */

int cache_find(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s, struct arena *a,
	       struct cache_entry *out)
{
	uint8_t kbuf[KEY_MAX];
	int klen = key_encode(kbuf, name, type);
	if (klen < 0)
		return klen;
	struct shard *s = shard_of(c, kbuf, (size_t)klen);
	int rc;
	MDB_txn *txn = reader_begin(s, &rc);
	if (!txn)
		return err_from_mdb(s, rc);

	MDB_val k = { (size_t)klen, kbuf }, v;
	struct entry_hdr h;
	rc = mdb_get(txn, s->dbi, &k, &v);
	if (rc) {
		rc = err_from_mdb(s, rc);
		goto out_reset;
	}
	if (!entry_decode(&h, &v, type)) {
		log_debug("cache: ignoring an unreadable entry");
		rc = TERN_ENOTFOUND;
		goto out_reset;
	}
	if (h.expire_at_s <= now_s) {
		rc = TERN_ENOTFOUND;
		goto out_reset;
	}
	uint8_t *data = NULL;
	if (h.data_len) {
		data = arena_alloc(a, h.data_len);
		if (!data) {
			rc = TERN_ELIMIT;
			goto out_reset;
		}
		memcpy(data, (const uint8_t *)v.mv_data + ENTRY_HDR_LEN, h.data_len);
	}
	uint64_t left_s = h.expire_at_s - now_s;
	/* the clock stepped back since the stash: never hand out more than was given */
	if (left_s > h.orig_ttl_s)
		left_s = h.orig_ttl_s;
	*out = (struct cache_entry){
		.kind = h.kind,
		.rank = h.rank,
		.verdict = h.verdict,
		.ttl_s = (uint32_t)left_s,
		.orig_ttl_s = h.orig_ttl_s,
		.n_rdata = h.n_rdata,
		.n_sigs = h.n_sigs,
		.data = data,
		.data_len = h.data_len,
	};
	rc = 0;

out_reset:
	reader_end(txn);
	return rc;
}

size_t cache_count(struct cache *c)
{
	struct shard *s = shard_of(c, NULL, 0);
	int rc;
	MDB_txn *txn = reader_begin(s, &rc);
	if (!txn)
		return 0;
	MDB_stat st;
	rc = mdb_stat(txn, s->dbi, &st);
	reader_end(txn);
	return rc ? 0 : st.ms_entries;
}

/* ---- removing ---------------------------------------------------------- */

int cache_remove(struct cache *c, const uint8_t *name, bool subtree)
{
	uint8_t prefix[KEY_MAX];
	int plen = key_prefix(prefix, name, subtree);
	if (plen < 0)
		return plen;
	/* With shards, every shard would be swept the same way. */
	struct shard *s = shard_of(c, NULL, 0);
	MDB_txn *txn;
	MDB_cursor *cur;
	int n_deleted = 0;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return err_from_mdb(s, rc);
	rc = mdb_cursor_open(txn, s->dbi, &cur);
	if (rc)
		goto fail_abort;
	/* FORMAT: cache-key: the keys at (and below) the name are one range */
	MDB_val k = { (size_t)plen, prefix }, v;
	rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && k.mv_size >= (size_t)plen &&
	       memcmp(k.mv_data, prefix, (size_t)plen) == 0) {
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			goto fail_cursor;
		if (n_deleted < INT_MAX)
			n_deleted++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc && rc != MDB_NOTFOUND)
		goto fail_cursor;
	mdb_cursor_close(cur);
	rc = mdb_txn_commit(txn);
	return rc ? err_from_mdb(s, rc) : n_deleted;

fail_cursor:
	mdb_cursor_close(cur);
fail_abort:
	mdb_txn_abort(txn);
	return err_from_mdb(s, rc);
}
