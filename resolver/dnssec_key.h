/* resolver/dnssec_key: the signature algorithms we validate and the one
 * signature check, with each DNSKEY's OpenSSL key object built once and kept
 * in a small per-thread cache. Internal to resolver/dnssec_*.c; the public
 * DNSSEC interface is resolver/dnssec.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** One signature check: true when signature @sig (RRSIG wire form) over
 * @data verifies with the public key @key (the DNSKEY RDATA after its flags,
 * protocol and algorithm) of DNSSEC algorithm @alg. False for an algorithm we
 * do not validate (dnssec_algorithm_supported()), a key that does not parse or
 * lies outside the sizes we accept (RSA: RFC 5702 minimum to 4096 bits,
 * exponent at most 8 bytes), a signature of the wrong shape, or a failed
 * check. The caller has charged the work budget already.
 * The key object built for (@alg, @key) is kept in this thread's cache (a few
 * dozen keys, evicted by collision), so a key used again costs no parsing and
 * no OpenSSL object setup; the cache compares the whole key, never just a
 * tag. A signature that verified is remembered (a few hundred per thread, by
 * SHA-256 of algorithm, key, signature and data): the very same check again
 * costs a hash. Leaves OpenSSL's thread error queue clean. */
bool dnssec_sig_check(uint8_t alg, const uint8_t *key, size_t key_len, const uint8_t *sig,
		      size_t sig_len, const uint8_t *data, size_t data_len);

/** Signatures that verified remembered per thread (33 bytes each). */
#define DNSSEC_SIG_CACHE_SLOTS 512

#define DNSSEC_DS_HASH_MAX 48 /* SHA-384 */

/** The DS digest of type @digest_type (1, 2 or 4) over @a then @b (the
 * owner name, the DNSKEY RDATA) into @out, with this thread's digest context
 * and digests fetched once. False for another type or an OpenSSL failure. */
bool dnssec_ds_hash(uint8_t digest_type, const uint8_t *a, size_t a_len, const uint8_t *b,
		    size_t b_len, uint8_t out[DNSSEC_DS_HASH_MAX]);

/** This thread's key cache counters (tests, statistics). */
struct dnssec_key_stats {
	uint64_t hits;       /* a cached key object was used */
	uint64_t builds;     /* a key object was built (and cached when it fits) */
	uint64_t sig_checks; /* public-key operations done */
	uint64_t sig_hits;   /* checks answered by a signature that verified before */
};
void dnssec_key_stats(struct dnssec_key_stats *out);

/** Free this thread's key cache now (it is also freed when the thread ends). */
void dnssec_key_cache_flush(void);
