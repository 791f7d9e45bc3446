/* cache/cache: RRsets in LMDB, keyed by cache/key, with the rank and expiry rules
 * of RFC 2181 5.4.1 and RFC 2308, split over shards (cache/shard). The
 * resolver's lookup stage reads through cache_read() (and cache_find(),
 * cache_find_cut()); its store stage writes through cache_stash_many(). This
 * file routes keys to shards, keeps the per-thread read transactions, and opens
 * the cache directory's layout. It knows no query and no server, and never
 * logs a name. */
#include "cache/cache.h"
#include "cache/entry.h"
#include "cache/env.h"
#include "cache/impl.h"
#include "cache/key.h"
#include "base/arena.h"
#include "base/err.h"
#include "base/log.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- the shard of a key ------------------------------------------------- *
 * A key goes to the shard picked by SipHash-1-3, under the cache directory's
 * secret, of its name's last two labels (its "registered domain": example.com
 * for www.a.example.com; the TLD alone for a TLD, nothing for the root).
 * - Secret: names are chosen by whoever sends queries; with a known hash they
 *   could pile every write onto one shard (PowerDNS's guideline for hash
 *   tables fed by the network). The secret lives in the layout record, so
 *   every process that opens the directory picks the same shards.
 * - Last two labels, not the whole name: a zone and every name below its
 *   registered domain then share a shard, so the closest enclosing zone cut
 *   of a name (cache_find_cut) is an ordered lookup within one shard, plus one
 *   lookup for the TLD and one for the root, which hash on what they have.
 *   The price: a busy registered domain, or a public suffix of two labels
 *   (co.uk), loads one shard more than the others. Sharding is there for
 *   writes that do not wait on each other; a lookup costs the same in a fuller
 *   shard (log n), and eviction keeps each shard within its share. */
static inline unsigned pick_domain(const struct cache *c, const uint8_t *key, size_t domain_len)
{
	if (c->n_shards == 1)
		return 0;
	uint64_t h = hash_sip(c->secret, key, domain_len, 1, 3);
	/* Lemire's multiply-shift: h mod n without a division */
	return (unsigned)(((h >> 32) * c->n_shards) >> 32);
}

static unsigned pick(const struct cache *c, const uint8_t *key, size_t len)
{
	return pick_domain(c, key, key_domain_len(key, len));
}

unsigned cache_shard_of(const struct cache *c, const uint8_t *name)
{
	uint8_t key[KEY_MAX];
	int len = key_prefix(key, name, true);
	return len < 0 ? 0 : pick(c, key, (size_t)len);
}

/* ---- readers: one read transaction per thread per shard -------------- */

static void readers_unlink(struct cache *c, struct readers *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void readers_free(struct readers *r)
{
	for (unsigned i = 0; i < CACHE_SHARDS_MAX; i++) {
		if (r->cuts[i])
			mdb_cursor_close(r->cuts[i]);
		if (r->txn[i])
			mdb_txn_abort(r->txn[i]);
	}
	free(r);
}

/* pthread key destructor: the thread exits while the cache is open. */
static void readers_exit(void *arg)
{
	struct readers *r = arg;
	pthread_mutex_lock(&r->c->readers_lock);
	readers_unlink(r->c, r);
	pthread_mutex_unlock(&r->c->readers_lock);
	readers_free(r);
}

/* This thread's readers of @c, created the first time. NULL: out of memory. */
static struct readers *readers_of(struct cache *c)
{
	struct readers *r = pthread_getspecific(c->readers_key);
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pthread_setspecific(c->readers_key, r) != 0) {
		free(r);
		return NULL;
	}
	r->c = c;
	pthread_mutex_lock(&c->readers_lock);
	r->next = c->readers;
	if (r->next)
		r->next->prev = r;
	c->readers = r;
	pthread_mutex_unlock(&c->readers_lock);
	return r;
}

/* reader_begin() the first time this thread reads shard @i, or after a renew
 * failed: a new transaction, active. */
static MDB_txn *reader_begin_slow(struct cache *c, unsigned i, int *rc, struct readers **rp)
{
	struct readers *r = readers_of(c);
	if (!r) {
		*rc = ENOMEM;
		return NULL;
	}
	if (r->cuts[i]) {
		mdb_cursor_close(r->cuts[i]);
		r->cuts[i] = NULL;
	}
	if (r->txn[i]) {
		mdb_txn_abort(r->txn[i]);
		r->txn[i] = NULL;
	}
	r->active &= ~(1ULL << i);
	*rc = mdb_txn_begin(c->shards[i].env, NULL, MDB_RDONLY, &r->txn[i]);
	if (*rc) {
		r->txn[i] = NULL;
		return NULL;
	}
	if (r->held)
		r->active |= 1ULL << i;
	*rp = r;
	return r->txn[i];
}

/* This thread's read transaction on shard @i, ready for use: a renew (or, in
 * a hold, nothing), no allocation, no lock. Give it back with reader_end().
 * Returns NULL and sets *@rc (an LMDB code) on failure; sets *@rp. */
static inline MDB_txn *reader_begin(struct cache *c, unsigned i, int *rc, struct readers **rp)
{
	struct readers *r = pthread_getspecific(c->readers_key);
	if (r && r->txn[i]) {
		*rp = r;
		if (r->active >> i & 1)
			return r->txn[i];
		*rc = mdb_txn_renew(r->txn[i]);
		if (*rc == 0) {
			if (r->held)
				r->active |= 1ULL << i;
			return r->txn[i];
		}
	}
	return reader_begin_slow(c, i, rc, rp);
}

/* Release the snapshot, unless in a hold; the transaction stays with the
 * thread for next time. */
static inline void reader_end(struct readers *r, unsigned i)
{
	if (!r->held)
		mdb_txn_reset(r->txn[i]);
}

int cache_read_hold(struct cache *c)
{
	struct readers *r = readers_of(c);
	if (!r)
		return -ENOMEM;
	r->held = true;
	return 0;
}

/* End this thread's snapshots of the shards in @mask. */
static void readers_drop(struct readers *r, uint64_t mask)
{
	uint64_t ended = r->active & mask;
	for (unsigned i = 0; ended; i++, ended >>= 1)
		if (ended & 1)
			mdb_txn_reset(r->txn[i]);
	r->active &= ~mask;
}

void cache_read_release(struct cache *c)
{
	struct readers *r = pthread_getspecific(c->readers_key);
	if (!r)
		return;
	readers_drop(r, ~0ULL);
	r->held = false;
}

/* A cursor on "cuts" of shard @i in @txn (this thread's, just begun). */
static MDB_cursor *reader_cuts(struct readers *r, unsigned i, MDB_txn *txn, int *rc)
{
	if (r->cuts[i]) {
		*rc = mdb_cursor_renew(txn, r->cuts[i]);
		if (*rc == 0)
			return r->cuts[i];
		mdb_cursor_close(r->cuts[i]);
		r->cuts[i] = NULL;
	}
	*rc = mdb_cursor_open(txn, r->c->shards[i].dbi, &r->cuts[i]);
	if (*rc) {
		r->cuts[i] = NULL;
		return NULL;
	}
	return r->cuts[i];
}

/* ---- opening: the layout record ------------------------------------------ *
 * FORMAT: cache-meta. The cache directory itself holds a small LMDB
 * environment whose "meta" DB says what the shards are: "format" (u32
 * CACHE_FORMAT) and "layout" (u32 shard count, then the 16-byte secret of the
 * shard hash). A cache of format 1 kept its entries in that environment; its
 * format record makes it "another format version", and it is replaced. The
 * layout is read and, when needed, rebuilt under the environment's write
 * transaction, so that processes opening one directory at once take turns. */
#define LAYOUT_MAP_BYTES (64 * 1024)
#define DB_META "meta"
#define META_FORMAT_KEY "format"
#define META_LAYOUT_KEY "layout"
#define LAYOUT_LEN (4 + HASH_KEY_LEN)

static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static void put_u32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

struct layout {
	MDB_env *env;
	MDB_txn *txn; /* a write transaction, held while the shards open */
	MDB_dbi meta;
};

/* Open the layout environment in @dir and begin its transaction. Returns 0;
 * TERN_EMALFORMED with *@why set when it is damaged or of another format (the
 * caller removes it); or another error. */
static int layout_begin(struct layout *l, const char *dir, const char **why)
{
	int rc = env_open(&l->env, dir, LAYOUT_MAP_BYTES, 2, why);
	if (rc)
		return rc;
	rc = mdb_txn_begin(l->env, NULL, 0, &l->txn);
	if (rc)
		goto fail_env;
	rc = mdb_dbi_open(l->txn, DB_META, MDB_CREATE, &l->meta);
	if (rc)
		goto fail_txn;
	MDB_val k = { sizeof(META_FORMAT_KEY) - 1, (void *)META_FORMAT_KEY }, v;
	rc = mdb_get(l->txn, l->meta, &k, &v);
	if (rc == 0 && (v.mv_size != 4 || get_u32(v.mv_data) != CACHE_FORMAT)) {
		*why = "another format version";
		rc = TERN_EMALFORMED;
		goto fail_txn;
	}
	if (rc == MDB_NOTFOUND) {
		MDB_val lk = { sizeof(META_LAYOUT_KEY) - 1, (void *)META_LAYOUT_KEY };
		if (mdb_get(l->txn, l->meta, &lk, &v) == 0) {
			*why = "a layout without a format version";
			rc = TERN_EMALFORMED;
			goto fail_txn;
		}
		uint8_t format[4];
		put_u32(format, CACHE_FORMAT);
		v = (MDB_val){ sizeof(format), format };
		rc = mdb_put(l->txn, l->meta, &k, &v, 0);
	}
	if (rc)
		goto fail_txn;
	return 0;

fail_txn:
	mdb_txn_abort(l->txn);
fail_env:
	if (rc != TERN_EMALFORMED)
		rc = env_failure(rc, dir, why);
	mdb_env_close(l->env);
	return rc;
}

/* Remove every shard directory of @dir: the layout changed. */
static void remove_shards(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned index;
		char tail;
		if (sscanf(e->d_name, "shard-%u%c", &index, &tail) != 1)
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (env_remove(path) == 0)
			rmdir(path);
	}
	closedir(d);
}

/* Read the layout, or write a new one with a new secret (removing the shards
 * of the old one) when there is none or its shard count is not @n_shards.
 * Fills @id's secret. Returns an LMDB code or -errno. */
static int layout_settle(struct layout *l, const char *dir, unsigned n_shards, bool fresh,
			 struct shard_id *id)
{
	MDB_val k = { sizeof(META_LAYOUT_KEY) - 1, (void *)META_LAYOUT_KEY }, v;
	int rc = mdb_get(l->txn, l->meta, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && v.mv_size == LAYOUT_LEN && get_u32(v.mv_data) == n_shards && !fresh) {
		memcpy(id->secret, (const uint8_t *)v.mv_data + 4, HASH_KEY_LEN);
		return 0;
	}
	if (rc == 0 && v.mv_size == LAYOUT_LEN && !fresh)
		log_warn("cache: %s has %u shards, %u configured: starting with an empty cache", dir,
			 get_u32(v.mv_data), n_shards);
	if (getrandom(id->secret, HASH_KEY_LEN, 0) != HASH_KEY_LEN)
		return -EIO;
	remove_shards(dir);
	uint8_t rec[LAYOUT_LEN];
	put_u32(rec, n_shards);
	memcpy(rec + 4, id->secret, HASH_KEY_LEN);
	v = (MDB_val){ sizeof(rec), rec };
	return mdb_put(l->txn, l->meta, &k, &v, 0);
}

static int open_shards(struct cache *c, const char *dir, size_t shard_bytes, uint32_t stale_s,
		       const struct shard_id *layout)
{
	uint64_t recency_seed;
	if (getrandom(&recency_seed, sizeof(recency_seed), 0) != sizeof(recency_seed))
		recency_seed = hash_sip(layout->secret, "recency", 7, 1, 3);
	for (unsigned i = 0; i < c->n_shards; i++) {
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/shard-%u", dir, i) >= (int)sizeof(path)) {
			log_err("cache: %s: path too long", dir);
			return -ENAMETOOLONG;
		}
		struct shard_id id = *layout;
		id.index = i;
		int rc = shard_open(&c->shards[i], path, shard_bytes, &id, stale_s, recency_seed);
		if (rc) {
			while (i-- > 0)
				shard_close(&c->shards[i]);
			return rc;
		}
	}
	return 0;
}

/* The map of each of @n_shards shards of a cache of @max_bytes, or 0 when
 * that leaves a shard less than CACHE_SHARD_MIN_BYTES. */
static size_t shard_bytes_of(size_t max_bytes, unsigned n_shards)
{
	if (n_shards == 0 || n_shards > CACHE_SHARDS_MAX)
		return 0;
	size_t bytes = max_bytes / n_shards;
	long page = sysconf(_SC_PAGESIZE);
	if (page > 0)
		bytes -= bytes % (size_t)page;
	return bytes < CACHE_SHARD_MIN_BYTES ? 0 : bytes;
}

/* The shard count of the layout record under @l's transaction, when there is
 * one that fits in @max_bytes; else 0. */
static unsigned layout_count(struct layout *l, size_t max_bytes)
{
	MDB_val k = { sizeof(META_LAYOUT_KEY) - 1, (void *)META_LAYOUT_KEY }, v;
	if (mdb_get(l->txn, l->meta, &k, &v) != 0 || v.mv_size != LAYOUT_LEN)
		return 0;
	uint32_t n = get_u32(v.mv_data);
	return shard_bytes_of(max_bytes, n) ? (unsigned)n : 0;
}

int cache_open_ex(struct cache **out, const char *dir, const struct cache_opts *opts)
{
	unsigned n_shards = opts->n_shards;
	if (n_shards == 0) {
		size_t fit = opts->max_bytes / CACHE_SHARD_MIN_BYTES;
		n_shards = fit < CACHE_SHARDS_DEFAULT ? (fit ? (unsigned)fit : 1) : CACHE_SHARDS_DEFAULT;
	}
	size_t shard_bytes = shard_bytes_of(opts->max_bytes, n_shards);
	if (shard_bytes == 0)
		return -EINVAL;
	int rc = env_mkdir(dir);
	if (rc) {
		log_err("cache: cannot create %s: %s", dir, tern_strerror(rc));
		return rc;
	}

	struct layout l;
	const char *why = NULL;
	bool fresh = false;
	rc = layout_begin(&l, dir, &why);
	if (rc == TERN_EMALFORMED) {
		log_warn("cache: %s in %s: starting with an empty cache", why, dir);
		fresh = true;
		rc = env_remove(dir);
		if (rc == 0)
			rc = layout_begin(&l, dir, &why);
		if (rc == TERN_EMALFORMED) {
			log_err("cache: cannot create a cache in %s: %s", dir, why);
			rc = -EIO;
		}
	}
	if (rc)
		return rc;
	/* read under the layout's write transaction: processes that open the
	 * directory at once agree on the count of the first of them */
	unsigned existing = opts->keep_layout && !fresh ? layout_count(&l, opts->max_bytes) : 0;
	if (existing) {
		n_shards = existing;
		shard_bytes = shard_bytes_of(opts->max_bytes, n_shards);
	}
	/* aligned: struct shard keeps its writers' fields on lines of their own */
	size_t size = sizeof(struct cache) + n_shards * sizeof(struct shard);
	size += 63 - (size + 63) % 64;
	struct cache *c = aligned_alloc(64, size);
	if (!c) {
		rc = -ENOMEM;
		goto fail_layout;
	}
	memset(c, 0, size);
	c->n_shards = n_shards;

	struct shard_id id = { .n_shards = n_shards };
	rc = layout_settle(&l, dir, n_shards, fresh, &id);
	if (rc == 0)
		rc = open_shards(c, dir, shard_bytes, opts->stale_s, &id);
	else
		rc = env_failure(rc, dir, &why);
	if (rc) {
		free(c);
		goto fail_layout;
	}
	memcpy(c->secret, id.secret, HASH_KEY_LEN);
	rc = mdb_txn_commit(l.txn);
	mdb_env_close(l.env);
	if (rc) {
		rc = env_failure(rc, dir, &why);
		goto fail_shards;
	}
	rc = -pthread_key_create(&c->readers_key, readers_exit);
	if (rc)
		goto fail_shards;
	rc = -pthread_mutex_init(&c->readers_lock, NULL);
	if (rc)
		goto fail_key;
	*out = c;
	return 0;

fail_layout:
	mdb_txn_abort(l.txn);
	mdb_env_close(l.env);
	return rc;
fail_key:
	pthread_key_delete(c->readers_key);
fail_shards:
	for (unsigned i = 0; i < n_shards; i++)
		shard_close(&c->shards[i]);
	free(c);
	return rc;
}

int cache_open(struct cache **out, const char *dir, size_t max_bytes)
{
	struct cache_opts opts = {
		.max_bytes = max_bytes,
		.n_shards = 0,
		.stale_s = CACHE_STALE_DEFAULT_S,
	};
	return cache_open_ex(out, dir, &opts);
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	/* No destructor runs after this; the readers left are ours to end. */
	pthread_key_delete(c->readers_key);
	pthread_mutex_lock(&c->readers_lock);
	while (c->readers) {
		struct readers *r = c->readers;
		readers_unlink(c, r);
		readers_free(r);
	}
	pthread_mutex_unlock(&c->readers_lock);
	pthread_mutex_destroy(&c->readers_lock);
	for (unsigned i = 0; i < c->n_shards; i++)
		shard_close(&c->shards[i]);
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
	if (!entry_fields_ok(p->type, e->kind, e->rank, e->verdict, e->why) ||
	    e->data_len > ENTRY_DATA_MAX)
		return false;
	if (e->data_len && !e->data)
		return false;
	return entry_payload_ok(e->kind, e->n_rdata, e->n_sigs, e->data, e->data_len);
}

#define NO_SHARD 0xff
#define STASH_STACK_PUTS 64 /* batches up to this size route without malloc */

int cache_stash_many(struct cache *c, const struct cache_put *puts, size_t n, uint64_t now_s)
{
	uint8_t which_stack[STASH_STACK_PUTS];
	uint8_t *which = n <= STASH_STACK_PUTS ? which_stack : malloc(n);
	if (!which)
		return -ENOMEM;
	bool touched[CACHE_SHARDS_MAX] = { false };
	unsigned first = NO_SHARD;
	/* A bad put (say, an RR of reserved type 0 from a hostile upstream) costs
	 * only itself, not the rest of the batch. */
	size_t n_bad = 0;
	for (size_t i = 0; i < n; i++) {
		which[i] = NO_SHARD;
		if (!put_ok(&puts[i])) {
			n_bad++;
			continue;
		}
		if (puts[i].entry.ttl_s == 0)
			continue;
		uint8_t key[KEY_DB_MAX];
		size_t domain_len;
		int len = key_locate(key, puts[i].name, puts[i].type, &domain_len);
		if (len < 0) {
			n_bad++;
			continue;
		}
		which[i] = (uint8_t)pick_domain(c, key + 1, domain_len);
		if (first == NO_SHARD)
			first = which[i];
		touched[which[i]] = true;
	}
	/* One transaction per shard touched, from the shard of the first put on:
	 * two threads whose batches span several shards then mostly write to
	 * different ones at a time, instead of queueing behind each other shard
	 * after shard. A failing shard does not keep the others from storing
	 * their part. */
	int rc = 0;
	uint64_t written = 0;
	for (unsigned turn = 0; first != NO_SHARD && turn < c->n_shards; turn++) {
		unsigned i = (first + turn) % c->n_shards;
		if (!touched[i])
			continue;
		int shard_rc = shard_stash(&c->shards[i], puts, which, (uint8_t)i, n, now_s);
		if (shard_rc && !rc)
			rc = shard_rc;
		written |= 1ULL << i;
	}
	/* in a hold, this thread's next reads of those shards see the writes */
	struct readers *r = pthread_getspecific(c->readers_key);
	if (r && r->active & written)
		readers_drop(r, written);
	if (which != which_stack)
		free(which);
	if (rc)
		return rc;
	return n_bad ? TERN_EMALFORMED : 0;
}

int cache_stash(struct cache *c, const uint8_t *name, uint16_t type, const struct cache_entry *e,
		uint64_t now_s)
{
	struct cache_put p = { .name = name, .type = type, .entry = *e };
	return cache_stash_many(c, &p, 1, now_s);
}

/* ---- reading ----------------------------------------------------------- */

/* Whether an entry that expires at @expire_at_s may be handed out at @now_s,
 * and with which TTL: the time left, or 0 and stale within @stale_s when
 * @stale_ok (RFC 8767). */
static inline bool entry_usable(struct cache_entry *e, uint64_t expire_at_s, uint64_t now_s,
				bool stale_ok, uint32_t stale_s)
{
	if (expire_at_s > now_s) {
		uint64_t left_s = expire_at_s - now_s;
		/* the clock stepped back since the stash: never hand out more than was given */
		e->ttl_s = left_s > e->orig_ttl_s ? e->orig_ttl_s : (uint32_t)left_s;
		return true;
	}
	if (!stale_ok || now_s - expire_at_s > stale_s)
		return false;
	e->stale = true;
	e->ttl_s = 0;
	return true;
}

/* shard_touch() of a slot known already; returns the epoch it holds now. */
static inline unsigned char touch_slot(struct shard *s, atomic_uchar *slot)
{
	unsigned char now = atomic_load_explicit(&s->epoch, memory_order_relaxed);
	if (atomic_load_explicit(slot, memory_order_relaxed) != now)
		atomic_store_explicit(slot, now, memory_order_relaxed);
	return now;
}

static int read_entry(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		      bool stale_ok, uint32_t stale_s, cache_read_fn fn, void *ctx,
		      struct cache_ref *ref)
{
	uint8_t key[KEY_DB_MAX];
	size_t domain_len;
	int len = key_locate(key, name, type, &domain_len);
	if (len < 0)
		return len;
	unsigned i = pick_domain(c, key + 1, domain_len);
	struct shard *s = &c->shards[i];
	struct readers *r;
	int rc;
	MDB_txn *txn = reader_begin(c, i, &rc, &r);
	if (!txn)
		return shard_err(s, rc);

	MDB_val k = { (size_t)len, key }, v;
	struct cache_entry e;
	uint64_t expire_at_s;
	rc = mdb_get(txn, s->dbi, &k, &v);
	if (rc) {
		rc = shard_err(s, rc);
	} else if (cache_entry_decode(v.mv_data, v.mv_size, type, &e, &expire_at_s) != 0) {
		log_debug("cache: ignoring an unreadable entry");
		rc = TERN_ENOTFOUND;
	} else if (!entry_usable(&e, expire_at_s, now_s, stale_ok, stale_s)) {
		rc = TERN_ENOTFOUND;
	} else {
		if (ref) {
			atomic_uchar *slot = shard_slot(s, key, (size_t)len);
			ref->snapshot = mdb_txn_id(txn);
			ref->expire_s = expire_at_s;
			ref->shard = i;
			ref->bucket = gen_bucket(&s->gen, key, (size_t)len);
			ref->slot = (uint32_t)(slot - s->recency);
			ref->touched = touch_slot(s, slot);
		} else {
			shard_touch(s, key, (size_t)len);
		}
		rc = fn(ctx, &e);
	}
	reader_end(r, i);
	return rc;
}

int cache_read(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
	       cache_read_fn fn, void *ctx)
{
	return read_entry(c, name, type, now_s, false, 0, fn, ctx, NULL);
}

int cache_read_ref(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		   cache_read_fn fn, void *ctx, struct cache_ref *ref)
{
	return read_entry(c, name, type, now_s, false, 0, fn, ctx, ref);
}

/* The entry was read in the snapshot of transaction ref->snapshot. A later
 * write transaction that put or deleted a key of the entry's bucket has left
 * its id there before its commit (cache/gen.h says why that order, and why a
 * writer killed at any point leaves nothing stale); while the bucket holds no
 * id above the snapshot, the bytes are the same. One shared load, no read
 * transaction: a commit racing with the check is seen or not, as a read just
 * before it would have. Writes to other buckets of the shard do not matter. */
bool cache_ref_current(struct cache *c, struct cache_ref *ref)
{
	if (ref->shard >= c->n_shards)
		return false;
	struct shard *s = &c->shards[ref->shard];
	if (!gen_unchanged(&s->gen, ref->bucket, ref->snapshot) || ref->slot > s->recency_mask)
		return false;
	/* A slot marked in the current epoch keeps it until the epoch moves on
	 * (reads only store the current epoch; eviction only ages older slots):
	 * no need to look at it again, a likely cache miss. */
	if (atomic_load_explicit(&s->epoch, memory_order_relaxed) != ref->touched)
		ref->touched = touch_slot(s, &s->recency[ref->slot]);
	return true;
}

int cache_read_stale(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		     uint32_t stale_s, cache_read_fn fn, void *ctx)
{
	return read_entry(c, name, type, now_s, true, stale_s, fn, ctx, NULL);
}

struct copy {
	struct arena *a;
	struct cache_entry *out;
};

/* cache_read_fn: copy the entry out of the map, into the arena. */
static int copy_out(void *ctx, const struct cache_entry *e)
{
	struct copy *cp = ctx;
	*cp->out = *e;
	if (e->data_len) {
		uint8_t *data = arena_alloc(cp->a, e->data_len);
		if (!data)
			return TERN_ELIMIT;
		memcpy(data, e->data, e->data_len);
		cp->out->data = data;
	}
	return 0;
}

int cache_find(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s, struct arena *a,
	       struct cache_entry *out)
{
	struct copy cp = { a, out };
	return read_entry(c, name, type, now_s, false, 0, copy_out, &cp, NULL);
}

int cache_find_stale(struct cache *c, const uint8_t *name, uint16_t type, uint64_t now_s,
		     uint32_t stale_s, struct arena *a, struct cache_entry *out)
{
	struct copy cp = { a, out };
	return read_entry(c, name, type, now_s, true, stale_s, copy_out, &cp, NULL);
}

/* ---- the closest enclosing zone cut ----------------------------------------- */

/* The NS entry @v (under the cut key @key) as a zone cut at @now_s: copied to
 * @out when it is a fresh NS RRset. Returns 0, TERN_ENOTFOUND (not a usable
 * cut: expired, NODATA, unreadable) or TERN_ELIMIT. */
static int take_cut(struct shard *s, const MDB_val *key, const MDB_val *v, uint64_t now_s,
		    struct arena *a, struct cache_entry *out)
{
	struct cache_entry e;
	uint64_t expire_at_s;
	if (cache_entry_decode(v->mv_data, v->mv_size, KEY_TYPE_NS, &e, &expire_at_s) != 0 ||
	    e.kind != CACHE_RRSET || !entry_usable(&e, expire_at_s, now_s, false, 0))
		return TERN_ENOTFOUND;
	shard_touch(s, key->mv_data, key->mv_size);
	struct copy cp = { a, out };
	return copy_out(&cp, &e);
}

/* The deepest cut at or above the name whose label prefix is @labels
 * (@len bytes), among the ancestors of at least two labels, in shard @i.
 * Sets *@cut_len to its label prefix's length.
 *
 * FORMAT: cache-key. "cuts" holds only NS keys, label prefix + END, in the
 * canonical order, where an ancestor sorts before its descendants. Let T be
 * the name, K its key, and C the greatest key below K. If C is an ancestor of
 * T, it is the deepest one in "cuts". If not, let L be the closest common
 * ancestor of C and T: no cut lies strictly between L and T on T's path, since
 * such a cut D would sort between C and K (after C, which left the path at L
 * with a smaller label; before K, as an ancestor of T). So the search goes on
 * from L. Each step drops at least one label from T; usually the first finds it. */
static int find_cut_in_shard(struct cache *c, unsigned i, const uint8_t *labels, size_t len,
			     uint64_t now_s, struct arena *a, struct cache_entry *out,
			     size_t *cut_len)
{
	struct shard *s = &c->shards[i];
	struct readers *r;
	int rc;
	MDB_txn *txn = reader_begin(c, i, &rc, &r);
	if (!txn)
		return shard_err(s, rc);
	MDB_cursor *cur = reader_cuts(r, i, txn, &rc);
	if (!cur) {
		reader_end(r, i);
		return shard_err(s, rc);
	}
	uint8_t key[KEY_DB_MAX];
	key[0] = KEY_SPACE_CUTS; /* FORMAT: cache-key */
	size_t t_len = len;
	rc = TERN_ENOTFOUND;
	while (key_depth(labels, t_len) >= 2) {
		memcpy(key + 1, labels, t_len);
		key[1 + t_len] = 0; /* FORMAT: cache-key: END */
		MDB_val k = { t_len + 2, key }, v;
		int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (mrc == 0 && k.mv_size == t_len + 2 && memcmp(k.mv_data, key, t_len + 2) == 0) {
			rc = take_cut(s, &k, &v, now_s, a, out);
			if (rc != TERN_ENOTFOUND) {
				*cut_len = t_len;
				break;
			}
			t_len = key_parent_len(labels, t_len);
			continue;
		}
		if (mrc == 0)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
		else if (mrc == MDB_NOTFOUND)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
		if (mrc) {
			if (mrc != MDB_NOTFOUND)
				rc = shard_err(s, mrc);
			break;
		}
		/* C: the greatest key below K; none in the space of cuts: no cut */
		const uint8_t *ck = k.mv_data;
		if (k.mv_size < 2 || ck[0] != KEY_SPACE_CUTS || ck[k.mv_size - 1] != 0)
			break;
		size_t c_len = k.mv_size - 2; /* without space and END */
		size_t l_len = key_common_len(ck + 1, c_len, labels, t_len);
		if (l_len >= t_len)
			break; /* cannot be, with keys of ours */
		if (l_len == c_len && key_depth(ck + 1, c_len) < 2)
			break; /* the TLD or the root: their own shards say */
		if (l_len == c_len) {
			/* C is an ancestor of T: the deepest cut in the space */
			rc = take_cut(s, &k, &v, now_s, a, out);
			if (rc != TERN_ENOTFOUND) {
				*cut_len = c_len;
				break;
			}
			t_len = key_parent_len(labels, c_len);
		} else {
			t_len = l_len;
		}
	}
	reader_end(r, i);
	return rc;
}

/* The cut at exactly the name whose label prefix is @labels (@len bytes). */
static int find_cut_at(struct cache *c, const uint8_t *labels, size_t len, uint64_t now_s,
		       struct arena *a, struct cache_entry *out)
{
	uint8_t key[KEY_DB_MAX];
	key[0] = KEY_SPACE_CUTS; /* FORMAT: cache-key */
	memcpy(key + 1, labels, len);
	key[1 + len] = 0; /* END */
	unsigned i = pick(c, labels, len);
	struct shard *s = &c->shards[i];
	struct readers *r;
	int rc;
	MDB_txn *txn = reader_begin(c, i, &rc, &r);
	if (!txn)
		return shard_err(s, rc);
	MDB_val k = { len + 2, key }, v;
	rc = mdb_get(txn, s->dbi, &k, &v);
	rc = rc ? shard_err(s, rc) : take_cut(s, &k, &v, now_s, a, out);
	reader_end(r, i);
	return rc;
}

int cache_find_cut(struct cache *c, const uint8_t *name, uint64_t now_s, struct arena *a,
		   uint8_t zone_out[255], struct cache_entry *ns_out)
{
	uint8_t labels[KEY_MAX];
	int len = key_prefix(labels, name, true);
	if (len < 0)
		return len;
	unsigned depth = key_depth(labels, (size_t)len);
	size_t cut_len = 0;
	int rc = TERN_ENOTFOUND;
	/* names of two labels and more: in the name's shard, ordered */
	if (depth >= 2)
		rc = find_cut_in_shard(c, pick(c, labels, (size_t)len), labels, (size_t)len, now_s,
				       a, ns_out, &cut_len);
	/* the TLD and the root: in shards of their own */
	if (rc == TERN_ENOTFOUND && depth >= 1) {
		/* FORMAT: cache-key: the first label and its SEP */
		cut_len = (size_t)((const uint8_t *)memchr(labels, 0, (size_t)len) - labels) + 1;
		rc = find_cut_at(c, labels, cut_len, now_s, a, ns_out);
	}
	if (rc == TERN_ENOTFOUND) {
		cut_len = 0;
		rc = find_cut_at(c, labels, 0, now_s, a, ns_out);
	}
	if (rc)
		return rc;
	/* the cut is the name without its first (depth - cut depth) labels */
	unsigned skip = depth - key_depth(labels, cut_len);
	const uint8_t *p = name;
	while (skip-- > 0)
		p += 1 + *p;
	size_t zone_len = (size_t)key_name_len(p, KEY_NAME_MAX);
	for (size_t j = 0; j < zone_len; j++)
		zone_out[j] = p[j] >= 'A' && p[j] <= 'Z' ? (uint8_t)(p[j] + ('a' - 'A')) : p[j];
	return 0;
}

/* ---- the NSEC chain of a zone (RFC 8198) ---------------------------------- */

#define NSEC_SCAN_MAX 64 /* keys looked at backwards before giving up */
#define TYPE_NSEC 47     /* RFC 4034 4 */

int cache_find_nsec(struct cache *c, const uint8_t *zone, const uint8_t *name, uint64_t now_s,
		    struct arena *a, uint8_t owner_out[255], struct cache_entry *out)
{
	return cache_find_before(c, zone, name, TYPE_NSEC, now_s, a, owner_out, out);
}

int cache_find_before(struct cache *c, const uint8_t *zone, const uint8_t *name, uint16_t type_want,
		      uint64_t now_s, struct arena *a, uint8_t owner_out[255],
		      struct cache_entry *out)
{
	uint8_t zkey[KEY_MAX];
	int zlen = key_prefix(zkey, zone, true);
	if (zlen < 0)
		return zlen;
	/* only below a name of two labels is the zone's chain in one shard */
	if (key_depth(zkey, (size_t)zlen) < 2)
		return TERN_ENOTFOUND;
	uint8_t key[KEY_DB_MAX];
	size_t domain_len;
	int len = key_locate(key, name, type_want, &domain_len);
	if (len < 0)
		return len;
	if ((size_t)len < 1 + (size_t)zlen || memcmp(key + 1, zkey, (size_t)zlen) != 0)
		return TERN_ENOTFOUND; /* not in the zone */
	unsigned i = pick_domain(c, key + 1, domain_len);
	struct shard *s = &c->shards[i];
	struct readers *r;
	int rc;
	MDB_txn *txn = reader_begin(c, i, &rc, &r);
	if (!txn)
		return shard_err(s, rc);
	MDB_cursor *cur = reader_cuts(r, i, txn, &rc);
	if (!cur) {
		reader_end(r, i);
		return shard_err(s, rc);
	}
	/* FORMAT: cache-key: the greatest key at or before (name, NSEC), then
	 * backwards through the zone's keys to the first NSEC: its owner is the
	 * canonical predecessor (or the name itself) among the cached NSECs */
	MDB_val k = { (size_t)len, key }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == 0 && !(k.mv_size == (size_t)len && memcmp(k.mv_data, key, (size_t)len) == 0))
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	rc = TERN_ENOTFOUND;
	for (int n = 0; mrc == 0 && n < NSEC_SCAN_MAX; n++) {
		const uint8_t *kd = k.mv_data;
		if (k.mv_size < 1 + (size_t)zlen + 3 || kd[0] != KEY_SPACE_RRSETS ||
		    memcmp(kd + 1, zkey, (size_t)zlen) != 0)
			break; /* left the zone */
		uint16_t type;
		uint8_t owner[KEY_NAME_MAX];
		if (key_decode(kd + 1, k.mv_size - 1, owner, &type) > 0 && type == type_want) {
			struct cache_entry e;
			uint64_t expire_at_s;
			if (cache_entry_decode(v.mv_data, v.mv_size, type_want, &e, &expire_at_s) == 0 &&
			    entry_usable(&e, expire_at_s, now_s, false, 0)) {
				memcpy(owner_out, owner, (size_t)key_name_len(owner, KEY_NAME_MAX));
				struct copy cp = { a, out };
				rc = copy_out(&cp, &e);
			}
			break; /* the closest one decides, fresh or not */
		}
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	if (mrc && mrc != MDB_NOTFOUND)
		rc = shard_err(s, mrc);
	reader_end(r, i);
	return rc;
}

/* ---- counting, removing -------------------------------------------------- */

size_t cache_count(struct cache *c)
{
	size_t n = 0;
	for (unsigned i = 0; i < c->n_shards; i++) {
		struct readers *r;
		int rc;
		MDB_txn *txn = reader_begin(c, i, &rc, &r);
		if (!txn)
			continue;
		n += shard_count(&c->shards[i], txn);
		reader_end(r, i);
	}
	return n;
}

int cache_remove(struct cache *c, const uint8_t *name, bool subtree)
{
	uint8_t prefix[KEY_MAX];
	int len = key_prefix(prefix, name, subtree);
	if (len < 0)
		return len;
	/* A name's own keys are in its shard, and so is its subtree when it has
	 * two labels or more; below a TLD or the root, every shard has some. */
	size_t labels_len = subtree ? (size_t)len : (size_t)len - 1;
	bool one = !subtree || key_depth(prefix, labels_len) >= 2;
	unsigned first = one ? pick(c, prefix, (size_t)len) : 0;
	unsigned end = one ? first + 1 : c->n_shards;
	long n = 0;
	for (unsigned i = first; i < end; i++) {
		long rc = shard_remove(&c->shards[i], prefix, (size_t)len);
		if (rc < 0)
			return (int)rc;
		n += rc;
	}
	return n > INT_MAX ? INT_MAX : (int)n;
}
