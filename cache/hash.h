/* cache/hash: the two hashes of the cache. hash_sip() (SipHash, Aumasson and
 * Bernstein) with a secret key per cache directory picks a key's shard: the
 * names are chosen by whoever sends queries, so the spread must not be
 * predictable (PowerDNS's guideline for hash tables fed by the network).
 * hash_fast() only spreads keys over the in-memory recency table, where a
 * collision costs precision, not safety. Header-only so both inline into the
 * lookup path. */
#pragma once

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_KEY_LEN 16

static inline uint64_t hash_rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

static inline uint64_t hash_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

#define HASH_SIPROUND(v0, v1, v2, v3)                                                    \
	do {                                                                             \
		v0 += v1; v1 = hash_rotl(v1, 13); v1 ^= v0; v0 = hash_rotl(v0, 32);      \
		v2 += v3; v3 = hash_rotl(v3, 16); v3 ^= v2;                              \
		v0 += v3; v3 = hash_rotl(v3, 21); v3 ^= v0;                              \
		v2 += v1; v1 = hash_rotl(v1, 17); v1 ^= v2; v2 = hash_rotl(v2, 32);      \
	} while (0)

/** SipHash-c-d of @len bytes at @data under @key. The cache uses c=1, d=3
 * (SipHash-1-3, as Python and Rust's hash tables); the tests check c=2, d=4
 * against the reference vectors. */
static inline uint64_t hash_sip(const uint8_t key[HASH_KEY_LEN], const void *data, size_t len,
				unsigned c_rounds, unsigned d_rounds)
{
	const uint8_t *p = data;
	uint64_t k0 = hash_le64(key), k1 = hash_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	size_t n_blocks = len / 8;
	for (size_t i = 0; i < n_blocks; i++, p += 8) {
		uint64_t m = hash_le64(p);
		v3 ^= m;
		for (unsigned r = 0; r < c_rounds; r++)
			HASH_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	switch (len % 8) {
	case 7: b |= (uint64_t)p[6] << 48; /* fall through */
	case 6: b |= (uint64_t)p[5] << 40; /* fall through */
	case 5: b |= (uint64_t)p[4] << 32; /* fall through */
	case 4: b |= (uint64_t)p[3] << 24; /* fall through */
	case 3: b |= (uint64_t)p[2] << 16; /* fall through */
	case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
	case 1: b |= (uint64_t)p[0];
	}
	v3 ^= b;
	for (unsigned r = 0; r < c_rounds; r++)
		HASH_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (unsigned r = 0; r < d_rounds; r++)
		HASH_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/** A quick multiplicative hash of @len bytes, seeded; not for adversarial use. */
static inline uint64_t hash_fast(uint64_t seed, const void *data, size_t len)
{
	const uint64_t mul = 0x9e3779b97f4a7c15ULL;
	const uint8_t *p = data;
	uint64_t h = seed ^ (len * mul);
	for (; len >= 8; len -= 8, p += 8) {
		h = (h ^ hash_le64(p)) * mul;
		h ^= h >> 29;
	}
	if (len) {
		uint8_t tail[8] = { 0 };
		memcpy(tail, p, len);
		h = (h ^ hash_le64(tail)) * mul;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ h >> 32;
}
