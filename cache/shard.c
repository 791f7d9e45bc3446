/* cache/shard: one LMDB environment of the cache. Opens it (replacing a
 * damaged or foreign one), writes batches of puts in one transaction with the
 * rank rules of RFC 2181 5.4.1, and keeps the shard below its size by calling
 * cache/evict. Knows no query and no server, and never logs a name. */
#include "cache/shard.h"
#include "cache/entry.h"
#include "cache/env.h"
#include "cache/evict.h"
#include "base/err.h"
#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

/* FORMAT: cache-meta: the shard's records, in KEY_SPACE_META (FORMAT: cache-key) */
#define META_FORMAT_KEY "\0format"
#define META_SHARD_KEY "\0shard"
#define META_RECORDS 3 /* with the epoch of the write generations (cache/gen.c) */

/* Eviction starts above the high-water mark and frees a share of the map. The
 * gap to the end of the map is room for copy-on-write: a transaction writes
 * new copies of the pages it changes before it frees the old ones, and LMDB
 * reuses freed pages only two commits later. So the room that a shard needs
 * besides its data is about twice the pages one write transaction touches:
 * little in a big shard, but in a small one a batch of puts may touch most of
 * its pages. The mark therefore starts at 90% and is lowered to what the
 * shard held when the map filled up, then creeps back up with each eviction. */
#define HIGH_PCT 90
#define HEADROOM_MIN_PAGES 32 /* small maps: room for a few transactions' copies */
#define HIGH_MIN_PCT 25      /* the mark never goes below this share of the map */
#define EVICT_PCT 5          /* a run frees 5% of the map */
#define EVICT_MIN_PAGES 4
#define FULL_RETRIES 2       /* retries of a batch that found the map full */
#define EVICT_WINDOW 2048    /* entries looked at per eviction transaction */
#define EVICT_WINDOW_PER_PAGE 4 /* at most this many per page of the map */
/* What eviction keeps: entries used in the last EVICT_AGE epochs (about the
 * last 1/32 of the map written, and since the last eviction but one). */
#define EVICT_AGE 2
#define EVICT_SHARE_MAX 0.25 /* an eviction takes at most a quarter of the data */
/* Dead entries are looked for first, over up to this many entries: a lap of a
 * shard of that size, some milliseconds of work. */
#define EVICT_DEAD_LOOK_MAX 65536

/* The recency epoch moves on each time this share of the map has been written,
 * so that reads and writes are told apart in time before the first eviction,
 * and 256 epochs span 4 fillings of the map. */
#define EPOCH_WRITE_DEN 64

/* Recency slots: about two per entry, so that few entries share a slot. The
 * most reserved: one per 64 bytes of map, about twice the entries a shard can
 * hold. The least: one page. */
#define RECENCY_SLOTS_PER_ENTRY 2
#define RECENCY_MAP_BYTES_PER_SLOT 64
#define RECENCY_SLOTS_MIN 4096
#define RECENCY_SLOTS_MAX (1u << 24)

/* Grow the recency table to about two slots for each of @entries. Called with
 * the shard's writer lock held (one grower per process), while readers store
 * into it: doubling copies slot i to slot i + n, so that each key's slot under
 * the new mask holds what it held under the old one, and only then publishes
 * the mask. A reader's store with the old mask meanwhile may be lost: the
 * table is lossy anyway. */
static void recency_grow(struct shard *s, size_t entries)
{
	uint32_t mask = atomic_load_explicit(&s->recency_mask, memory_order_relaxed);
	while ((size_t)mask + 1 < entries * RECENCY_SLOTS_PER_ENTRY && mask + 1 < s->recency_max) {
		uint32_t n = mask + 1;
		for (uint32_t i = 0; i < n; i++)
			atomic_store_explicit(&s->recency[n + i],
					      atomic_load_explicit(&s->recency[i],
								   memory_order_relaxed),
					      memory_order_relaxed);
		mask = 2 * n - 1;
		atomic_store_explicit(&s->recency_mask, mask, memory_order_release);
	}
}

/* Reserve the recency table's most, and use its least: pages of the mapping
 * that no slot has been stored into cost no memory. */
static int recency_open(struct shard *s, size_t map_bytes, size_t entries)
{
	size_t slots = RECENCY_SLOTS_MIN;
	while (slots < RECENCY_SLOTS_MAX && slots < map_bytes / RECENCY_MAP_BYTES_PER_SLOT)
		slots *= 2;
	void *p = mmap(NULL, slots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	/* a huge page would make one stored slot cost 2 MB */
	(void)madvise(p, slots, MADV_NOHUGEPAGE);
	s->recency = p;
	s->recency_max = (uint32_t)slots;
	atomic_init(&s->recency_mask, RECENCY_SLOTS_MIN - 1);
	recency_grow(s, entries);
	return 0;
}

static size_t high_default(const struct shard *s)
{
	size_t room = s->map_pages * (100 - HIGH_PCT) / 100;
	if (room < HEADROOM_MIN_PAGES)
		room = HEADROOM_MIN_PAGES;
	return s->map_pages > room ? s->map_pages - room : 0;
}

static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static void put_u32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

int shard_err(struct shard *s, int rc)
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

/* ---- opening: format and layout checks ---------------------------------- */

/* FORMAT: cache-meta: the records that say what the files hold. */
static int meta_write(MDB_txn *txn, MDB_dbi dbi, const struct shard_id *id)
{
	uint8_t format[4], rec[8 + HASH_KEY_LEN];
	put_u32(format, CACHE_FORMAT);
	put_u32(rec, id->n_shards);
	put_u32(rec + 4, id->index);
	memcpy(rec + 8, id->secret, HASH_KEY_LEN);
	MDB_val k = { sizeof(META_FORMAT_KEY) - 1, (void *)META_FORMAT_KEY };
	MDB_val v = { sizeof(format), format };
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc)
		return rc;
	k = (MDB_val){ sizeof(META_SHARD_KEY) - 1, (void *)META_SHARD_KEY };
	v = (MDB_val){ sizeof(rec), rec };
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* The format and layout checks, in the transaction that opens the DB.
 * Returns 0 (writing the records into a new shard), TERN_EMALFORMED with *@why
 * set when the files hold something else, or an LMDB code. */
static int meta_check(struct shard *s, MDB_txn *txn, const struct shard_id *id, const char **why)
{
	/* FORMAT: cache-meta */
	MDB_val k = { sizeof(META_FORMAT_KEY) - 1, (void *)META_FORMAT_KEY };
	MDB_val v;
	int rc = mdb_get(txn, s->dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		MDB_stat st;
		rc = mdb_stat(txn, s->dbi, &st);
		if (rc)
			return rc;
		if (st.ms_entries > 0) {
			*why = "entries without a format version";
			return TERN_EMALFORMED;
		}
		return meta_write(txn, s->dbi, id);
	}
	if (rc)
		return rc;
	if (v.mv_size != 4 || get_u32(v.mv_data) != CACHE_FORMAT) {
		*why = "another format version";
		return TERN_EMALFORMED;
	}
	k = (MDB_val){ sizeof(META_SHARD_KEY) - 1, (void *)META_SHARD_KEY };
	rc = mdb_get(txn, s->dbi, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	const uint8_t *p = v.mv_data;
	if (rc == MDB_NOTFOUND || v.mv_size != 8 + HASH_KEY_LEN || get_u32(p) != id->n_shards ||
	    get_u32(p + 4) != id->index || memcmp(p + 8, id->secret, HASH_KEY_LEN) != 0) {
		*why = "a shard of another layout";
		return TERN_EMALFORMED;
	}
	return 0;
}

/* Open the environment in @dir and check what it holds. Returns 0,
 * TERN_EMALFORMED with *@why set (remove it and start over), or an error. */
static int shard_env_open(struct shard *s, const char *dir, size_t map_bytes,
			  const struct shard_id *id, const char **why)
{
	/* no named DB: a cache of format 1 or 2 has some, and fails the check */
	int rc = env_open(&s->env, dir, map_bytes, 0, why);
	if (rc)
		return rc;
	MDB_txn *txn;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		goto fail_env;
	rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
	if (rc == 0)
		rc = meta_check(s, txn, id, why);
	/* the write generations, checked and if need be reset under the writer
	 * lock, committed with the epoch record */
	if (rc == 0) {
		uint64_t seed = hash_sip(id->secret, "gen", 3, 1, 3);
		int grc = gen_open(&s->gen, dir, map_bytes, seed, txn, s->dbi);
		if (grc) {
			mdb_txn_abort(txn);
			mdb_env_close(s->env);
			s->env = NULL;
			return grc;
		}
	}
	if (rc == 0)
		rc = shard_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc == 0)
		return 0;
	gen_close(&s->gen);
fail_env:
	if (rc != TERN_EMALFORMED)
		rc = env_failure(rc, dir, why);
	mdb_env_close(s->env);
	s->env = NULL;
	return rc;
}

int shard_open(struct shard *s, const char *dir, size_t map_bytes, const struct shard_id *id,
	       uint32_t stale_s, uint64_t recency_seed)
{
	memset(s, 0, sizeof(*s));
	atomic_init(&s->damage_logged, false);
	int rc = env_mkdir(dir);
	if (rc) {
		log_err("cache: cannot create %s: %s", dir, tern_strerror(rc));
		return rc;
	}
	const char *why = NULL;
	rc = shard_env_open(s, dir, map_bytes, id, &why);
	if (rc == TERN_EMALFORMED) {
		/* Another process that still has the old files open keeps its own
		 * (unlinked) copy; from here on we share nothing with it. */
		log_warn("cache: %s in %s: starting this shard empty", why, dir);
		rc = env_remove(dir);
		if (rc == 0)
			rc = shard_env_open(s, dir, map_bytes, id, &why);
		if (rc == TERN_EMALFORMED) {
			log_err("cache: cannot create a cache in %s: %s", dir, why);
			rc = -EIO;
		}
	}
	if (rc)
		return rc;

	MDB_stat st;
	rc = mdb_env_stat(s->env, &st);
	if (rc) {
		rc = env_failure(rc, dir, &why);
		goto fail_env;
	}
	s->page_bytes = st.ms_psize;
	s->map_pages = map_bytes / st.ms_psize;
	atomic_init(&s->high_pages, high_default(s));
	atomic_init(&s->credit_bytes, 0);
	atomic_init(&s->evicting, false);
	s->stale_s = stale_s;
	s->recency_seed = recency_seed;
	rc = recency_open(s, map_bytes, st.ms_entries);
	if (rc)
		goto fail_env;
	/* epoch 1: what no read has touched since the start (slot 0) is one older
	 * than what has been */
	atomic_init(&s->epoch, 1);
	if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng) || s->rng == 0)
		s->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL + 1;
	return 0;

fail_env:
	mdb_env_close(s->env);
	s->env = NULL;
	return rc;
}

void shard_close(struct shard *s)
{
	if (s->env)
		mdb_env_close(s->env);
	if (s->recency)
		munmap(s->recency, s->recency_max);
	gen_close(&s->gen);
	s->env = NULL;
	s->recency = NULL;
}

/* ---- writing ----------------------------------------------------------- */

/* RFC 2181 5.4.1: data of a higher rank replaces lower, never the reverse
 * while the stored data is fresh (an answer is not replaced by glue). An
 * expired or unreadable entry is replaced by anything. */
static bool may_replace(const MDB_val *old, uint16_t type, uint8_t new_rank, uint64_t now_s)
{
	struct cache_entry e;
	uint64_t expire_at_s;
	if (cache_entry_decode(old->mv_data, old->mv_size, type, &e, &expire_at_s) != 0)
		return true;
	return expire_at_s <= now_s || new_rank >= e.rank;
}

/* A new entry counts as read now: the eviction that its own commit may set off
 * must not take it (the resolver reads what it stored right away, referrals
 * first). From the next eviction on, it ages like any other. */
static void mark_new(struct shard *s, const uint8_t *key, size_t len)
{
	shard_touch(s, key, len);
}

static size_t high_water(const struct shard *s)
{
	return atomic_load_explicit(&s->high_pages, memory_order_relaxed);
}

/* The map filled up with @used pages in use: mark the high water below that. */
static void high_lower(struct shard *s, size_t used)
{
	size_t mark = used / 10 * 9;
	size_t floor = s->map_pages * HIGH_MIN_PCT / 100;
	if (mark < floor)
		mark = floor;
	if (mark < high_water(s))
		atomic_store_explicit(&s->high_pages, mark, memory_order_relaxed);
}

/* An eviction went through: let the mark creep back towards its default. */
static void high_raise(struct shard *s)
{
	size_t def = high_default(s);
	size_t high = high_water(s);
	if (high < def)
		atomic_store_explicit(&s->high_pages, high + (def - high + 15) / 16,
				      memory_order_relaxed);
}

/* A small write transaction of its own: rewrite the format record. */
static int tick_txn(struct shard *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	uint8_t format[4];
	put_u32(format, CACHE_FORMAT);
	MDB_val k = { sizeof(META_FORMAT_KEY) - 1, (void *)META_FORMAT_KEY };
	MDB_val v = { sizeof(format), format };
	rc = mdb_put(txn, s->dbi, &k, &v, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* Evict the share @pages / @used of the shard's data: first only dead
 * entries (unreadable, or expired beyond the stale window), over many windows;
 * then, if need be, those not used for EVICT_AGE epochs, then for 1, each over
 * one lap of the shard at most. A share of the data, not bytes for pages: a
 * page holds less than its size. The data's size is estimated from the first
 * window. Each window in a transaction of its own, so that each copies few
 * pages: in a full map a big one would not fit; after one that did not, the
 * windows get smaller. Returns an LMDB code. */
static int evict_txn(struct shard *s, uint64_t now_s, size_t pages, size_t used)
{
	if (atomic_exchange_explicit(&s->evicting, true, memory_order_acquire))
		return 0; /* another thread is on it */
	if (used == 0)
		used = 1;
	double share = (double)pages / (double)used;
	if (share > EVICT_SHARE_MAX)
		share = EVICT_SHARE_MAX;
	size_t need = SIZE_MAX, freed_total = 0, entries = SIZE_MAX;
	/* a window's deletes copy some of its pages: keep it small in a small map */
	size_t window = s->map_pages * EVICT_WINDOW_PER_PAGE;
	if (window > EVICT_WINDOW)
		window = EVICT_WINDOW;
	long deleted_total = 0;
	int rc = 0, n_full = 0;
	static const unsigned min_ages[] = { 0, EVICT_AGE, 1 };
	for (int phase = 0; phase < 3 && rc == 0 && freed_total < need; phase++) {
		size_t looked_total = 0, looked_max = phase == 0 ? EVICT_DEAD_LOOK_MAX : SIZE_MAX;
		while (freed_total < need && looked_total < entries && looked_total < looked_max) {
			MDB_txn *txn;
			rc = mdb_txn_begin(s->env, NULL, 0, &txn);
			if (rc)
				break;
			if (entries == SIZE_MAX)
				entries = shard_count(s, txn);
			long n_deleted;
			size_t freed, looked, looked_bytes;
			rc = evict_run(s, txn, now_s, window, need - freed_total, min_ages[phase],
				       &n_deleted, &freed, &looked, &looked_bytes);
			if (rc == 0)
				rc = shard_commit(txn);
			else
				mdb_txn_abort(txn);
			if (rc == MDB_MAP_FULL && ++n_full < 3) {
				/* pages freed by the last commits become reusable two
				 * commits later: two that change next to nothing, and a
				 * smaller window */
				if (tick_txn(s) == 0)
					tick_txn(s);
				window = window / 8 > 16 ? window / 8 : 16;
				rc = 0;
				continue;
			}
			if (rc || looked == 0)
				break;
			if (need == SIZE_MAX) {
				double data = (double)looked_bytes / (double)looked * (double)entries;
				need = (size_t)(data * share) + 1;
			}
			freed_total += freed;
			deleted_total += n_deleted;
			looked_total += looked;
		}
		if (need == SIZE_MAX)
			break; /* nothing to look at */
	}
	if (need == SIZE_MAX)
		need = 0;
	evict_epoch_next(s);
	if (deleted_total > 0) {
		atomic_store_explicit(&s->credit_bytes, freed_total, memory_order_relaxed);
		high_raise(s);
	}
	atomic_store_explicit(&s->evicting, false, memory_order_release);
	log_debug("cache: evicted %ld entries (%zu bytes of %zu wanted; mark %zu of %zu pages): %s",
		  deleted_total, freed_total, need, high_water(s), s->map_pages,
		  rc ? mdb_strerror(rc) : "ok");
	return rc;
}

/* The pages one eviction frees: EVICT_PCT of the map, and what is above the
 * high-water mark. */
static size_t evict_pages(const struct shard *s, size_t used)
{
	size_t pages = s->map_pages * EVICT_PCT / 100;
	if (pages < EVICT_MIN_PAGES)
		pages = EVICT_MIN_PAGES;
	size_t high = high_water(s);
	return used > high ? pages + (used - high) : pages;
}

/* All the puts for this shard in one write transaction. Sets *@used to the
 * pages in use before it. Returns an LMDB code. */
static int stash_txn(struct shard *s, const struct cache_put *puts, const uint8_t *which,
		     uint8_t index, size_t n, uint64_t now_s, size_t *used)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	*used = evict_used_pages(s, txn);
	for (size_t i = 0; i < n; i++) {
		if (which[i] != index)
			continue;
		const struct cache_put *p = &puts[i];
		uint8_t kbuf[KEY_DB_MAX];
		size_t domain_len;
		int klen = key_locate(kbuf, p->name, p->type, &domain_len);
		if (klen < 0)
			continue; /* cache_stash_many() has checked it */
		MDB_val k = { (size_t)klen, kbuf };
		MDB_val v;
		rc = mdb_get(txn, s->dbi, &k, &v);
		if (rc == 0 && !may_replace(&v, p->type, p->entry.rank, now_s))
			continue;
		if (rc && rc != MDB_NOTFOUND)
			goto fail_abort;
		v.mv_size = entry_size(&p->entry);
		gen_bump(&s->gen, kbuf, (size_t)klen, mdb_txn_id(txn));
		rc = mdb_put(txn, s->dbi, &k, &v, MDB_RESERVE);
		if (rc)
			goto fail_abort;
		entry_encode(v.mv_data, &p->entry, now_s + p->entry.ttl_s);
		mark_new(s, kbuf, (size_t)klen);
		size_t bytes = evict_entry_bytes((size_t)klen, v.mv_size, s->page_bytes);
		s->written_bytes += bytes;
		if (s->written_bytes >= s->map_pages * s->page_bytes / EPOCH_WRITE_DEN) {
			s->written_bytes = 0;
			evict_epoch_next(s);
		}
		size_t credit = atomic_load_explicit(&s->credit_bytes, memory_order_relaxed);
		if (credit)
			atomic_store_explicit(&s->credit_bytes, credit > bytes ? credit - bytes : 0,
					      memory_order_relaxed);
	}
	MDB_stat st;
	if (mdb_stat(txn, s->dbi, &st) == 0)
		recency_grow(s, st.ms_entries);
	return shard_commit(txn);

fail_abort:
	mdb_txn_abort(txn);
	return rc;
}

int shard_stash(struct shard *s, const struct cache_put *puts, const uint8_t *which,
		uint8_t index, size_t n, uint64_t now_s)
{
	size_t used;
	int rc = stash_txn(s, puts, which, index, n, now_s, &used);
	/* Above the high-water mark: make room now, in a transaction of its own,
	 * so that the next puts find free pages. A failure here is no failure of
	 * the stash; the next one tries again. Not while the room freed by the
	 * last eviction is unused (struct shard: credit_bytes). */
	if (rc == 0 && used > high_water(s) &&
	    atomic_load_explicit(&s->credit_bytes, memory_order_relaxed) == 0)
		evict_txn(s, now_s, evict_pages(s, used), used);
	/* The map is full. Often not with data: a transaction writes copies of
	 * the pages it changes, and LMDB reuses the pages freed by transaction N
	 * only from N+2 on (until then its other meta page still points at the
	 * snapshot that used them), so a batch of puts that touches many pages of
	 * a small shard finds no room. Two commits that change next to nothing
	 * make those pages reusable; then the retry. If that is not enough, one
	 * eviction, and the last retry. Readers of killed processes, which pin
	 * old pages, are let go first; a reader of this process that was
	 * descheduled while holding a snapshot gets a moment. */
	for (int attempt = 0; rc == MDB_MAP_FULL && attempt < FULL_RETRIES; attempt++) {
		high_lower(s, used);
		if (attempt == 0) {
			int n_dead;
			mdb_reader_check(s->env, &n_dead);
		} else {
			sched_yield();
			evict_txn(s, now_s, evict_pages(s, used), used);
		}
		if (tick_txn(s) == 0)
			tick_txn(s);
		rc = stash_txn(s, puts, which, index, n, now_s, &used);
	}
	/* Still full: one put alone may be what does not fit (a big value needs
	 * contiguous pages, which a fragmented map may lack). Each on its own, so
	 * that only what does not fit is dropped. */
	for (size_t i = 0; rc == MDB_MAP_FULL && i < n; i++) {
		if (which[i] != index)
			continue;
		int one = stash_txn(s, puts + i, which + i, index, 1, now_s, &used);
		if (one == MDB_MAP_FULL)
			log_debug("cache: shard full, a record not stored");
		else if (one)
			rc = one;
	}
	if (rc == MDB_MAP_FULL)
		rc = 0;
	return shard_err(s, rc);
}

/* ---- removing, counting ------------------------------------------------ */

/* Delete the keys of @space that start with the label prefix @prefix. */
static int remove_space(struct shard *s, MDB_txn *txn, uint8_t space, const uint8_t *prefix,
			size_t len, long *n)
{
	uint8_t key[KEY_DB_MAX];
	key[0] = space;
	memcpy(key + 1, prefix, len);
	len++;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, s->dbi, &cur);
	if (rc)
		return rc;
	/* FORMAT: cache-key: the keys at (and below) a name are one range */
	MDB_val k = { len, key }, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= len && memcmp(k.mv_data, key, len) == 0) {
		gen_bump(&s->gen, k.mv_data, k.mv_size, mdb_txn_id(txn));
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		(*n)++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

long shard_remove(struct shard *s, const uint8_t *prefix, size_t len)
{
	MDB_txn *txn;
	long n = 0;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return shard_err(s, rc);
	rc = remove_space(s, txn, KEY_SPACE_CUTS, prefix, len, &n);
	if (rc == 0)
		rc = remove_space(s, txn, KEY_SPACE_RRSETS, prefix, len, &n);
	if (rc) {
		mdb_txn_abort(txn);
		return shard_err(s, rc);
	}
	rc = shard_commit(txn);
	return rc ? shard_err(s, rc) : n;
}

size_t shard_count(struct shard *s, MDB_txn *txn)
{
	MDB_stat st;
	if (mdb_stat(txn, s->dbi, &st) != 0 || st.ms_entries < META_RECORDS)
		return 0;
	return st.ms_entries - META_RECORDS;
}
