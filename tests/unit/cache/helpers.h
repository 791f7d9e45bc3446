/* tests/unit/cache/helpers: names, payloads, and a fixture with its own cache
 * directory under /tmp, shared by the tests of cache/. Include after cmocka.h. */
#pragma once

#include "cache/cache.h"
#include "cache/key.h"
#include "base/arena.h"
#include "base/err.h"

#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NOW 1700000000ULL
#define MAP_BYTES (8u << 20)

struct fixture {
	char dir[64];
	struct cache *c;
	struct arena *a;
};

/* "www.example.com." -> uncompressed wire form */
static inline const uint8_t *wire(uint8_t out[256], const char *text)
{
	size_t w = 0;
	while (*text && strcmp(text, ".") != 0) {
		size_t len_at = w++;
		while (*text && *text != '.')
			out[w++] = (uint8_t)*text++;
		out[len_at] = (uint8_t)(w - len_at - 1);
		if (*text == '.')
			text++;
	}
	out[w] = 0;
	return out;
}

/* wire form -> "www.example.com." (tests only: plain ASCII labels) */
static inline const char *text_of(char out[256], const uint8_t *name)
{
	size_t w = 0;
	for (; *name; name += 1 + *name) {
		memcpy(out + w, name + 1, *name);
		w += *name;
		out[w++] = '.';
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = 0;
	return out;
}

struct payload {
	uint8_t b[4096];
	uint32_t len;
};

static inline void payload_add(struct payload *p, const void *rdata, uint16_t rdlen)
{
	p->b[p->len++] = (uint8_t)(rdlen >> 8);
	p->b[p->len++] = (uint8_t)rdlen;
	memcpy(p->b + p->len, rdata, rdlen);
	p->len += rdlen;
}

static inline struct cache_entry rrset(const struct payload *p, uint16_t n_rdata, uint16_t n_sigs,
				       uint8_t rank, uint32_t ttl_s)
{
	return (struct cache_entry){
		.kind = CACHE_RRSET, .rank = rank, .verdict = VERDICT_NONE, .ttl_s = ttl_s,
		.n_rdata = n_rdata, .n_sigs = n_sigs, .data = p->b, .data_len = p->len,
	};
}

/* An A RRset with one address, 10.0.0.@last. */
static inline struct cache_entry a_rrset(struct payload *p, uint8_t last, uint8_t rank,
					 uint32_t ttl_s)
{
	const uint8_t addr[4] = { 10, 0, 0, last };
	p->len = 0;
	payload_add(p, addr, 4);
	return rrset(p, 1, 0, rank, ttl_s);
}

static inline void stash_a(struct cache *c, const char *name, uint8_t last, uint8_t rank,
			   uint32_t ttl_s, uint64_t now_s)
{
	uint8_t n[256];
	struct payload p;
	struct cache_entry e = a_rrset(&p, last, rank, ttl_s);
	assert_int_equal(cache_stash(c, wire(n, name), 1, &e, now_s), 0);
}

/* An NS RRset at @zone naming ns1.@zone (rank REFERRAL). */
static inline void stash_ns(struct cache *c, const char *zone, uint32_t ttl_s, uint64_t now_s)
{
	uint8_t n[256], target[256];
	char text[300];
	snprintf(text, sizeof(text), "ns1.%s", strcmp(zone, ".") == 0 ? "" : zone);
	wire(target, text);
	struct payload p = { .len = 0 };
	payload_add(&p, target, (uint16_t)key_name_len(target, 256));
	struct cache_entry e = rrset(&p, 1, 0, RANK_REFERRAL, ttl_s);
	assert_int_equal(cache_stash(c, wire(n, zone), KEY_TYPE_NS, &e, now_s), 0);
}

/* The last address byte of the A RRset at @name in @c, or -1 if not found. */
static inline int find_a_in(struct cache *c, struct arena *a, const char *name, uint64_t now_s)
{
	uint8_t n[256];
	struct cache_entry e;
	int rc = cache_find(c, wire(n, name), 1, now_s, a, &e);
	if (rc == TERN_ENOTFOUND)
		return -1;
	assert_int_equal(rc, 0);
	assert_int_equal(e.data_len, 6);
	return e.data[5];
}

static inline int find_a(struct fixture *f, const char *name, uint64_t now_s)
{
	return find_a_in(f->c, f->a, name, now_s);
}

static inline void stash_many_a(struct cache *c, int n, uint64_t now_s)
{
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "n%d.example.com.", i);
		stash_a(c, name, (uint8_t)i, RANK_ANSWER, 300, now_s);
	}
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static inline void reopen(struct fixture *f)
{
	cache_close(f->c);
	f->c = NULL;
	assert_int_equal(cache_open(&f->c, f->dir, MAP_BYTES), 0);
}

static inline int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/tern-test-cache-XXXXXX");
	if (!mkdtemp(f->dir) || cache_open(&f->c, f->dir, MAP_BYTES) != 0)
		return -1;
	f->a = arena_create(1 << 20);
	*state = f;
	return f->a ? 0 : -1;
}

static inline int teardown(void **state)
{
	struct fixture *f = *state;
	cache_close(f->c);
	arena_destroy(f->a);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}
