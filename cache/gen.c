/* cache/gen: the write generations of a shard (see gen.h for what they mean
 * and why the order of stores is safe). Opening, checking and resetting the
 * shared file. Never logs a name. */
#include "cache/gen.h"
#include "cache/entry.h"
#include "cache/hash.h"
#include "base/err.h"
#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define GEN_MAGIC "terngen"
/* FORMAT: cache-gen: the environment's record of the file's epoch, in
 * KEY_SPACE_META (FORMAT: cache-key) */
#define GEN_EPOCH_KEY "\0gen"

uint32_t gen_bucket(const struct gen *g, const uint8_t *key, size_t len)
{
	return (uint32_t)hash_fast(g->seed, key, len) & g->mask;
}

static uint32_t buckets_for(size_t map_bytes)
{
	uint32_t n = GEN_BUCKETS_MIN;
	while (n < GEN_BUCKETS_MAX && (size_t)n * GEN_MAP_BYTES_PER_BUCKET < map_bytes)
		n *= 2;
	return n;
}

static size_t file_bytes(uint32_t n_buckets)
{
	return GEN_HEADER_BYTES + (size_t)n_buckets * sizeof(uint64_t);
}

/* Whether @h (read from a file of @size bytes) is a header we can use. */
static bool header_ok(const struct gen_header *h, off_t size)
{
	uint32_t n = h->n_buckets;
	return memcmp(h->magic, GEN_MAGIC, sizeof(GEN_MAGIC)) == 0 && h->format == CACHE_FORMAT &&
	       n >= GEN_BUCKETS_MIN && n <= GEN_BUCKETS_MAX && (n & (n - 1)) == 0 &&
	       size == (off_t)file_bytes(n);
}

/* The epoch the environment records, or 0 when it has none. */
static uint64_t env_epoch(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_val k = { sizeof(GEN_EPOCH_KEY) - 1, (void *)GEN_EPOCH_KEY }, v;
	uint64_t epoch;
	if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != sizeof(epoch))
		return 0;
	memcpy(&epoch, v.mv_data, sizeof(epoch));
	return le64toh(epoch);
}

static int map_file(struct gen *g, int fd, uint32_t n_buckets)
{
	size_t len = file_bytes(n_buckets);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	g->hdr = p;
	g->bucket = (_Atomic uint64_t *)((uint8_t *)p + GEN_HEADER_BYTES);
	g->mask = n_buckets - 1;
	g->map_len = len;
	return 0;
}

/* Make the file this environment's, under the writer lock of @txn (see gen.h:
 * floor first, then the buckets, then the epoch in both places). */
static int reset(struct gen *g, int fd, off_t size, size_t map_bytes, MDB_txn *txn, MDB_dbi dbi)
{
	uint32_t n = buckets_for(map_bytes);
	size_t len = file_bytes(n);
	/* a file of another size is nobody's: no process that shares this
	 * environment maps it (they checked its header and epoch) */
	if (size != (off_t)len && ftruncate(fd, (off_t)len) < 0)
		return -errno;
	int rc = map_file(g, fd, n);
	if (rc)
		return rc;
	atomic_store_explicit(&g->hdr->floor, mdb_txn_id(txn), memory_order_seq_cst);
	if (size != 0) {
		/* buckets back to zero; holes cost no memory */
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, GEN_HEADER_BYTES,
			      (off_t)(len - GEN_HEADER_BYTES)) < 0)
			for (uint32_t i = 0; i < n; i++)
				atomic_store_explicit(&g->bucket[i], 0, memory_order_relaxed);
	}
	uint64_t epoch = 0;
	while (epoch == 0)
		if (getrandom(&epoch, sizeof(epoch), 0) != sizeof(epoch))
			return -EIO;
	memcpy(g->hdr->magic, GEN_MAGIC, sizeof(GEN_MAGIC));
	g->hdr->format = CACHE_FORMAT;
	g->hdr->n_buckets = n;
	g->hdr->epoch = epoch;
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t le = htole64(epoch);
	MDB_val k = { sizeof(GEN_EPOCH_KEY) - 1, (void *)GEN_EPOCH_KEY };
	MDB_val v = { sizeof(le), &le };
	rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc > 0 ? -rc : rc ? -EIO : 0;
}

int gen_open(struct gen *g, const char *dir, size_t map_bytes, uint64_t seed, MDB_txn *txn,
	     MDB_dbi dbi)
{
	memset(g, 0, sizeof(*g));
	g->seed = seed;
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, GEN_FILE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int rc = -errno;
		log_err("cache: cannot open %s: %s", path, tern_strerror(rc));
		return rc;
	}
	struct stat st;
	struct gen_header h;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	bool ok = st.st_size >= (off_t)sizeof(h) && pread(fd, &h, sizeof(h), 0) == sizeof(h) &&
		  header_ok(&h, st.st_size) && h.epoch != 0 && h.epoch == env_epoch(txn, dbi);
	if (ok) {
		rc = map_file(g, fd, h.n_buckets);
	} else {
		if (st.st_size != 0)
			log_warn("cache: %s is not this shard's: reset", path);
		rc = reset(g, fd, st.st_size, map_bytes, txn, dbi);
	}
out:
	if (rc) {
		log_err("cache: cannot use %s: %s", path, tern_strerror(rc));
		gen_close(g);
	}
	close(fd);
	return rc;
}

void gen_close(struct gen *g)
{
	if (g->hdr)
		munmap(g->hdr, g->map_len);
	g->hdr = NULL;
	g->bucket = NULL;
}
