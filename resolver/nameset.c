/* resolver/nameset: see nameset.h. Names are kept in presentation form,
 * lowercased, without the final dot, in one blob; an open-addressing table of
 * (hash, offset) finds them. "covers" probes the name, then each parent
 * suffix after an unescaped dot: a name of k labels costs at most k probes.
 * The hash is seeded per process: query names are chosen by clients. */
#include "resolver/nameset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/err.h"

#define NAME_TEXT_MAX 253      /* RFC 1035 2.3.4: 255 octets in wire form */
#define LABEL_TEXT_MAX 63
#define TABLE_MIN 64
#define NAMESET_NAMES_MAX (64u * 1024 * 1024) /* names in one set: offsets are 32-bit */

struct slot {
	uint32_t hash; /* 0: empty */
	uint32_t off;  /* into blob: one length byte, then the name */
};

struct nameset {
	struct slot *table;
	size_t mask;     /* table size - 1 */
	/* a filter in front of the table, so that most probes of names not in
	 * the set touch neither the table nor the blob (both far bigger than a
	 * cache): which label counts occur (bit i: i labels; bit 63: 63 or more),
	 * and a Bloom filter of one byte per slot, two bits per name, both bits
	 * in the same 64-bit word */
	uint64_t label_counts;
	uint64_t *bloom;
	size_t n;
	char *blob;
	size_t blob_len, blob_cap;
	size_t skipped;
	/* shared sets: the registry's bookkeeping */
	int refs;
	bool shared;
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct nameset *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nameset *registry;
static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void make_seed(void)
{
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15ull;
}

/* Names are hashed label by label from the right, so that one pass over a
 * name gives the hash of each of its suffixes ("com", "example.com", ...):
 * covers() then costs one pass and one probe per label. Eight bytes at a
 * time, multiply and rotate, seeded. */
static uint64_t hash_label(uint64_t h, const char *p, size_t len)
{
	h = (h ^ len) * 0x9e3779b97f4a7c15ull;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = ((h ^ v) * 0xff51afd7ed558ccdull);
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len) {
		/* the bytes in little-endian order, as memcpy gives them on x86,
		 * without a call to memcpy of a variable length */
		uint64_t v = 0;
		for (size_t i = 0; i < len; i++)
			v |= (uint64_t)(uint8_t)p[i] << (8 * i);
		h = ((h ^ v) * 0xc4ceb9fe1a85ec53ull);
		h ^= h >> 29;
	}
	return h;
}

static uint32_t finish(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	uint32_t r = (uint32_t)h;
	return r ? r : 1;
}

#define LABELS_MAX NAMESET_LABELS_MAX

/* The start of each label of canonical @p (escape-aware); returns how many. */
static int label_starts(const char *p, size_t len, uint16_t *at)
{
	int n = 0;
	at[n++] = 0;
	for (size_t i = 0; i < len;) {
		if (p[i] == '\\') {
			i += 2;
			continue;
		}
		if (p[i] == '.' && n < LABELS_MAX)
			at[n++] = (uint16_t)(i + 1);
		i++;
	}
	return n;
}

/* The unfinished hash of canonical @p; its label count in *@labels. */
static uint64_t hash_name64(const char *p, size_t len, int *labels)
{
	uint16_t at[LABELS_MAX];
	int n = label_starts(p, len, at);
	uint64_t h = seed;
	size_t end = len;
	for (int i = n - 1; i >= 0; i--) {
		h = hash_label(h, p + at[i], end - at[i]);
		end = at[i] ? at[i] - 1u : 0;
	}
	if (labels)
		*labels = n;
	return h;
}

static uint32_t hash_name(const char *p, size_t len)
{
	return finish(hash_name64(p, len, NULL));
}

static uint64_t label_bit(int labels)
{
	return 1ull << (labels < 63 ? labels : 63);
}

/* The Bloom filter's word and two bits for a name of (unfinished) hash @h. */
static uint64_t bloom_bits(uint64_t h, size_t *word, size_t words)
{
	uint64_t b = (h ^ (h >> 31)) * 0x94d049bb133111ebull;
	b ^= b >> 29;
	*word = (size_t)b & (words - 1);
	return 1ull << ((b >> 40) & 63) | 1ull << ((b >> 46) & 63);
}

static size_t bloom_words(const struct nameset *s)
{
	return (s->mask + 1) / 8; /* one byte per slot; TABLE_MIN / 8 is a power of two */
}

static bool bloom_may_have(const struct nameset *s, uint64_t h)
{
	size_t w;
	uint64_t bits = bloom_bits(h, &w, bloom_words(s));
	return (s->bloom[w] & bits) == bits;
}

static void bloom_add(struct nameset *s, uint64_t h)
{
	size_t w;
	uint64_t bits = bloom_bits(h, &w, bloom_words(s));
	s->bloom[w] |= bits;
}

static bool slot_matches(const struct nameset *s, const struct slot *sl, uint32_t h, const char *p,
			 size_t len)
{
	const uint8_t *e = (const uint8_t *)s->blob + sl->off;
	return sl->hash == h && e[0] == len && memcmp(e + 1, p, len) == 0;
}

static bool find_hashed(const struct nameset *s, const char *p, size_t len, uint32_t h)
{
	for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
		const struct slot *sl = &s->table[i];
		if (sl->hash == 0)
			return false;
		if (slot_matches(s, sl, h, p, len))
			return true;
	}
}

static bool find(const struct nameset *s, const char *p, size_t len)
{
	return s->n && find_hashed(s, p, len, hash_name(p, len));
}

static int grow(struct nameset *s)
{
	size_t size = s->table ? (s->mask + 1) * 2 : TABLE_MIN;
	struct slot *t = calloc(size, sizeof(*t));
	uint64_t *bloom = calloc(size / 8, sizeof(uint64_t));
	if (!t || !bloom) {
		free(t);
		free(bloom);
		return -ENOMEM;
	}
	for (size_t i = 0; s->table && i <= s->mask; i++) {
		struct slot sl = s->table[i];
		if (!sl.hash)
			continue;
		size_t j = sl.hash & (size - 1);
		while (t[j].hash)
			j = (j + 1) & (size - 1);
		t[j] = sl;
	}
	free(s->table);
	free(s->bloom);
	s->table = t;
	s->bloom = bloom;
	s->mask = size - 1;
	/* the filter's size follows the table's: hash every name again */
	for (size_t off = 0; off < s->blob_len; off += 1u + (uint8_t)s->blob[off])
		bloom_add(s, hash_name64(s->blob + off + 1, (uint8_t)s->blob[off], NULL));
	return 0;
}

/* @p is canonical: lowercase, no final dot, valid. */
static int insert(struct nameset *s, const char *p, size_t len)
{
	if (find(s, p, len))
		return 0;
	if (s->n >= NAMESET_NAMES_MAX)
		return TERN_ELIMIT;
	if (!s->table || (s->n + 1) * 4 > (s->mask + 1) * 3) { /* load factor 3/4 */
		int rc = grow(s);
		if (rc < 0)
			return rc;
	}
	if (s->blob_len + len + 1 > s->blob_cap) {
		size_t cap = s->blob_cap ? s->blob_cap * 2 : 4096;
		while (cap < s->blob_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return TERN_ELIMIT;
		char *b = realloc(s->blob, cap);
		if (!b)
			return -ENOMEM;
		s->blob = b;
		s->blob_cap = cap;
	}
	uint32_t off = (uint32_t)s->blob_len;
	s->blob[off] = (char)len;
	memcpy(s->blob + off + 1, p, len);
	s->blob_len += len + 1;
	int labels;
	uint64_t h64 = hash_name64(p, len, &labels);
	uint32_t h = finish(h64);
	size_t i = h & s->mask;
	while (s->table[i].hash)
		i = (i + 1) & s->mask;
	s->table[i] = (struct slot){ h, off };
	s->n++;
	s->label_counts |= label_bit(labels);
	bloom_add(s, h64);
	return 0;
}

/* Lowercase @text into @out without the final dot; check label and name
 * lengths and characters (RFC 1035 5.1 escapes: "\." and "\DDD" allowed).
 * Returns the length, or -1. The root and empty names are not valid here. */
static int canonical(const char *text, size_t len, char out[NAME_TEXT_MAX + 1 + 3 * 64])
{
	if (len > 0 && text[len - 1] == '.' && !(len > 1 && text[len - 2] == '\\'))
		len--;
	if (len == 0 || len > NAME_TEXT_MAX + 3 * 64)
		return -1;
	size_t label = 0, wire = 1;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		else if (c == '.') {
			if (label == 0)
				return -1; /* empty label */
			wire += 1;
			label = 0;
			out[i] = c;
			continue;
		} else if (c == '\\') {
			if (i + 1 >= len)
				return -1;
			out[i] = c;
			i++;
			c = text[i];
			if (c >= '0' && c <= '9') {
				if (i + 2 >= len)
					return -1;
				out[i] = c;
				out[i + 1] = text[i + 1];
				out[i + 2] = text[i + 2];
				i += 2;
				label++;
				wire++;
				continue;
			}
		} else if ((unsigned char)c <= ' ' || (unsigned char)c >= 0x7f) {
			return -1;
		}
		out[i] = c;
		label++;
		wire++;
		if (label > LABEL_TEXT_MAX)
			return -1;
	}
	if (label == 0 || wire + 1 > 255)
		return -1;
	return (int)len;
}

bool nameset_has(const struct nameset *s, const char *text, size_t len)
{
	char buf[NAME_TEXT_MAX + 1 + 3 * 64];
	int n = canonical(text, len, buf);
	return n > 0 && find(s, buf, (size_t)n);
}

/* Probe each suffix of canonical @p (labels starting at @at[0..k-1]), the
 * shortest first: "com", "example.com", "www.example.com". */
static bool covers_canon(const struct nameset *s, const char *p, size_t n, const uint16_t *at, int k)
{
	uint64_t h = seed;
	size_t end = n;
	for (int i = k - 1; i >= 0; i--) {
		h = hash_label(h, p + at[i], end - at[i]);
		end = at[i] ? at[i] - 1u : 0;
		if (!(s->label_counts & label_bit(k - i)) || !bloom_may_have(s, h))
			continue;
		if (find_hashed(s, p + at[i], n - at[i], finish(h)))
			return true;
	}
	return false;
}

bool nameset_covers(const struct nameset *s, const char *text, size_t len)
{
	char buf[NAME_TEXT_MAX + 1 + 3 * 64];
	if (!s->n)
		return false;
	int n = canonical(text, len, buf);
	if (n <= 0)
		return false;
	uint16_t at[LABELS_MAX];
	int k = label_starts(buf, (size_t)n, at);
	return covers_canon(s, buf, (size_t)n, at, k);
}

bool nameset_covers_canon(const struct nameset *s, const char *text, size_t len,
			  const uint16_t *starts, int n_labels)
{
	if (!s->n || len == 0 || n_labels <= 0 || n_labels > LABELS_MAX)
		return false;
	return covers_canon(s, text, len, starts, n_labels);
}

struct nameset *nameset_new(void)
{
	pthread_once(&seed_once, make_seed);
	struct nameset *s = calloc(1, sizeof(*s));
	if (s)
		s->refs = 1;
	return s;
}

int nameset_add(struct nameset *s, const char *text, size_t len)
{
	char buf[NAME_TEXT_MAX + 1 + 3 * 64];
	int n = canonical(text, len, buf);
	if (n <= 0)
		return TERN_EMALFORMED;
	return insert(s, buf, (size_t)n);
}

size_t nameset_count(const struct nameset *s)
{
	return s->n;
}

size_t nameset_skipped(const struct nameset *s)
{
	return s->skipped;
}

size_t nameset_bytes(const struct nameset *s)
{
	return sizeof(*s) + s->blob_cap +
	       (s->table ? (s->mask + 1) * (sizeof(struct slot) + 1) : 0); /* + 1: the filter */
}

static void destroy(struct nameset *s)
{
	free(s->table);
	free(s->bloom);
	free(s->blob);
	free(s->path);
	free(s);
}

/* hosts files map these to loopback; blocking them would break the host */
static bool is_hosts_boilerplate(const char *w, size_t n)
{
	static const char *const names[] = {
		"localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
		"ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
		"ip6-allhosts", "0.0.0.0",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(names[i], w, n) == 0)
			return true;
	return false;
}

static bool is_address(const char *w, size_t n)
{
	char buf[64];
	unsigned char a[16];
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, w, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
}

/* One line of a blocklist or hosts file. Returns names added, or -1 if the
 * line was not usable, or a negative error below -1. */
static int load_line(struct nameset *s, char *line)
{
	line[strcspn(line, "#")] = '\0';
	const char *sep = " \t\r\n\v\f";
	char *save = NULL;
	char *w = strtok_r(line, sep, &save);
	if (!w)
		return 0;
	bool hosts = is_address(w, strlen(w));
	if (hosts)
		w = strtok_r(NULL, sep, &save);
	else if (strtok_r(NULL, sep, &save))
		return -1; /* one name per line, or an address and names */
	int added = 0;
	for (; w; w = hosts ? strtok_r(NULL, sep, &save) : NULL) {
		size_t n = strlen(w);
		if (hosts && is_hosts_boilerplate(w, n))
			continue;
		if (!hosts && n > 3 && w[0] == '|' && w[1] == '|' && w[n - 1] == '^') {
			w += 2; /* adblock "||example.com^" */
			n -= 3;
		}
		if (n > 2 && w[0] == '*' && w[1] == '.') {
			w += 2; /* "*.example.com": covers already means "and below" */
			n -= 2;
		}
		int rc = nameset_add(s, w, n);
		if (rc == TERN_EMALFORMED)
			return -1;
		if (rc < 0)
			return rc < -1 ? rc : -ENOMEM;
		added++;
	}
	return added;
}

static int load_file(struct nameset *s, const char *path, char *err, size_t err_cap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		return -errno;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (strlen(line) != (size_t)n) {
			s->skipped++; /* a NUL byte */
			continue;
		}
		int r = load_line(s, line);
		if (r == -1)
			s->skipped++;
		else if (r < 0) {
			snprintf(err, err_cap, "%s: %s", path, tern_strerror(r));
			rc = r;
			break;
		}
	}
	if (!rc && ferror(f)) {
		snprintf(err, err_cap, "%s: read error", path);
		rc = -EIO;
	}
	free(line);
	fclose(f);
	return rc;
}

struct nameset *nameset_open(const char *path, char *err, size_t err_cap)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&registry_lock);
	for (struct nameset *s = registry; s; s = s->next) {
		if (s->dev == st.st_dev && s->ino == st.st_ino && s->size == st.st_size &&
		    s->mtime.tv_sec == st.st_mtim.tv_sec && s->mtime.tv_nsec == st.st_mtim.tv_nsec &&
		    strcmp(s->path, path) == 0) {
			s->refs++;
			pthread_mutex_unlock(&registry_lock);
			return s;
		}
	}
	/* loaded under the lock: workers opening the same list wait for one load */
	struct nameset *s = nameset_new();
	if (!s || !(s->path = strdup(path))) {
		snprintf(err, err_cap, "%s: out of memory", path);
		goto fail;
	}
	if (load_file(s, path, err, err_cap) < 0)
		goto fail;
	s->shared = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	s->next = registry;
	registry = s;
	pthread_mutex_unlock(&registry_lock);
	return s;
fail:
	pthread_mutex_unlock(&registry_lock);
	if (s)
		destroy(s);
	return NULL;
}

void nameset_close(struct nameset *s)
{
	if (!s)
		return;
	if (!s->shared) {
		if (--s->refs == 0)
			destroy(s);
		return;
	}
	pthread_mutex_lock(&registry_lock);
	bool last = --s->refs == 0;
	if (last)
		for (struct nameset **p = &registry; *p; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
	pthread_mutex_unlock(&registry_lock);
	if (last)
		destroy(s);
}
