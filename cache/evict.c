/* cache/evict: a CLOCK hand over the key order. A run looks at a window of
 * keys from where the last run stopped (the first run starts at a random key)
 * and deletes the entries that are dead (expired beyond the stale window) and,
 * when asked, those not used for @min_age epochs (the current epoch minus the
 * 8-bit epoch that the last read or write left in the recency table), until
 * enough bytes are freed. It deletes runs of neighbouring keys, not a share of
 * every page: LMDB frees a page only when it empties or falls below a quarter
 * full, so thinning every page evenly would free none. What was used recently
 * stays, wherever the hand is: a full cache keeps what is hot. */
#include "cache/evict.h"
#include "cache/entry.h"
#include "cache/key.h"
#include "cache/shard.h"

#include <string.h>

/* Ages are 8-bit: an entry that no run has seen for 256 epochs would look
 * young again. A survivor older than this is pinned at this age. */
#define AGE_PIN 128

size_t evict_used_pages(struct shard *s, MDB_txn *txn)
{
	/* 0 is LMDB's free list; s->dbi (1) holds the rest */
	const MDB_dbi dbis[] = { 0, s->dbi };
	size_t used = 2; /* the two meta pages */
	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
		MDB_stat st;
		if (mdb_stat(txn, dbis[i], &st) == 0)
			used += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
	}
	return used;
}

/* A leaf node is an 8-byte header, the key and the value, and a 2-byte slot in
 * its page; a value too big for a leaf lives in overflow pages of its own. */
size_t evict_entry_bytes(size_t key_len, size_t value_len, size_t page_bytes)
{
	size_t node = 8 + key_len + value_len + 2;
	if (node <= page_bytes / 2)
		return node;
	return 8 + key_len + 8 + 2 + (value_len + 16 + page_bytes - 1) / page_bytes * page_bytes;
}

static size_t entry_bytes(const MDB_val *k, const MDB_val *v, size_t page_bytes)
{
	return evict_entry_bytes(k->mv_size, v->mv_size, page_bytes);
}

/* Whether the entry can go before any other: unreadable, or expired longer
 * ago than the stale window (RFC 8767: only then is it useless). */
static bool is_dead(const struct shard *s, const MDB_val *k, const MDB_val *v, uint64_t now_s)
{
	uint16_t type;
	struct cache_entry e;
	uint64_t expire_at_s;
	if (!key_type(k->mv_data, k->mv_size, &type) ||
	    cache_entry_decode(v->mv_data, v->mv_size, type, &e, &expire_at_s) != 0)
		return true;
	return expire_at_s <= now_s && now_s - expire_at_s >= s->stale_s;
}

static unsigned age_of(struct shard *s, const MDB_val *k, unsigned char epoch)
{
	atomic_uchar *slot = shard_slot(s, k->mv_data, k->mv_size);
	return (unsigned char)(epoch - atomic_load_explicit(slot, memory_order_relaxed));
}

/* The next entry, wrapping around at the end of the DB. */
static int step(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
	int rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, k, v, MDB_FIRST);
	return rc;
}

/* Put the cursor on the first entry at or after @key (@len 0: the first). */
static int seek(MDB_cursor *cur, const uint8_t *key, size_t len, MDB_val *k, MDB_val *v)
{
	int rc = MDB_NOTFOUND;
	if (len) {
		*k = (MDB_val){ len, (void *)key };
		rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	}
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, k, v, MDB_FIRST);
	return rc;
}

static uint64_t next_random(uint64_t *state)
{
	/* xorshift64*: only spreads the first hands of processes over the keys */
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x ? x : 0x9e3779b97f4a7c15ULL;
	return x * 0x2545f4914f6cdd1dULL;
}

static void save_hand(struct hand *h, const MDB_val *k)
{
	if (k->mv_size <= sizeof(h->key)) {
		memcpy(h->key, k->mv_data, k->mv_size);
		h->len = k->mv_size;
	}
}

/* Whether @k is a key of an entry, not a record of the shard's own. */
static bool is_entry(const MDB_val *k)
{
	/* FORMAT: cache-key */
	return k->mv_size > 0 && *(const uint8_t *)k->mv_data != KEY_SPACE_META;
}

int evict_run(struct shard *s, MDB_txn *txn, uint64_t now_s, size_t window, size_t need,
	      unsigned min_age, long *n_deleted, size_t *freed, size_t *n_looked,
	      size_t *looked_bytes)
{
	*n_deleted = 0;
	*freed = 0;
	*n_looked = 0;
	*looked_bytes = 0;
	MDB_stat st;
	int rc = mdb_stat(txn, s->dbi, &st);
	if (rc)
		return rc;
	size_t limit = st.ms_entries < window ? st.ms_entries : window;
	if (limit == 0)
		return 0;
	MDB_cursor *cur;
	rc = mdb_cursor_open(txn, s->dbi, &cur);
	if (rc)
		return rc;

	struct hand *hand = &s->hand;
	if (hand->len == 0) {
		/* the first run of this process: a random point among the names */
		hand->key[0] = KEY_SPACE_RRSETS; /* FORMAT: cache-key */
		hand->key[1] = (uint8_t)('a' + next_random(&s->rng) % 26);
		hand->len = 2;
	}
	MDB_val k, v;
	rc = seek(cur, hand->key, hand->len, &k, &v);
	unsigned char epoch = atomic_load_explicit(&s->epoch, memory_order_relaxed);
	size_t looked = 0;
	for (; looked < limit && rc == 0 && *freed < need; looked++) {
		if (!is_entry(&k)) { /* the shard's own records */
			rc = step(cur, &k, &v);
			continue;
		}
		size_t bytes = entry_bytes(&k, &v, s->page_bytes);
		*looked_bytes += bytes;
		unsigned age = 0;
		bool dead = is_dead(s, &k, &v, now_s);
		if (!dead && min_age > 0)
			age = age_of(s, &k, epoch);
		if (dead || (min_age > 0 && age >= min_age)) {
			/* before the delete, while the key is still there to hash */
			gen_bump(&s->gen, k.mv_data, k.mv_size, mdb_txn_id(txn));
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				break;
			*freed += bytes;
			(*n_deleted)++;
			/* after a delete the cursor already sits on the next entry;
			 * LMDB's MDB_NEXT knows this and does not skip it */
		} else if (age > AGE_PIN) {
			atomic_store_explicit(shard_slot(s, k.mv_data, k.mv_size),
					      (unsigned char)(epoch - AGE_PIN), memory_order_relaxed);
		}
		rc = step(cur, &k, &v);
	}
	*n_looked = looked;
	if (rc == 0)
		save_hand(hand, &k);
	else if (rc == MDB_NOTFOUND) /* the DB is empty now */
		rc = 0;
	mdb_cursor_close(cur);
	return rc;
}

void evict_epoch_next(struct shard *s)
{
	atomic_fetch_add_explicit(&s->epoch, 1, memory_order_relaxed);
}
