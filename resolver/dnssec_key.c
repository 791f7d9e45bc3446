/* resolver/dnssec_key: signature algorithms, OpenSSL key objects and the
 * signature check (see dnssec_key.h).
 *
 * Building an EVP_PKEY from DNSKEY bytes (EVP_PKEY_fromdata, an EC group or
 * RSA BIGNUMs) cost about a fifth of each check, and a cold resolution checks
 * many signatures with the same few keys (the root's, the TLD's). So each key
 * object is built once per thread, with a verification context ready for it
 * and the digests fetched once, and kept in a direct-mapped table keyed by
 * (algorithm, whole key bytes). Per thread: no locks, and OpenSSL objects are
 * never shared between threads. The table is freed when the thread ends.
 *
 * Each thread also remembers the last few hundred signatures that verified,
 * by SHA-256 of (key, algorithm, signature, signed data; the key by the serial
 * of its cached object, the data by the digest the algorithm signs, which is
 * computed for the check anyway): the same RRSIG over
 * the same data with the same key (a referral's NSEC proof seen again by the
 * DS resolution, a DNSKEY set judged by two resolutions at once) costs a hash,
 * not a public-key operation. SHA-256 because the signature and the data come
 * from the network: only a collision-resistant digest of the whole input may
 * stand for "this exact check passed". Failures are never remembered, and the
 * caller's work budget (KeyTrap) is charged before the check either way. */
#include "resolver/dnssec_key.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "resolver/dnssec.h"

#define RSA_BITS_MAX 4096   /* RFC 3110, RFC 5702: larger keys are refused (cost) */
#define RSA_EXP_BYTES_MAX 8 /* verification cost grows with the exponent */
#define KEY_SLOTS 64        /* keys kept per thread: a cold run uses a few dozen */
#define KEY_CACHED_MAX 1024 /* bytes of key we keep a copy of (RSA-4096 is ~520) */
#define SIG_SLOTS DNSSEC_SIG_CACHE_SLOTS
#define SIG_DIGEST_LEN 32   /* SHA-256 */

/* ---- algorithms ---- */

enum key_kind { KIND_RSA, KIND_EC, KIND_EDDSA };
enum md_index { MD_SHA256, MD_SHA384, MD_SHA512, MD_SHA1, MD_NONE };

struct alg_info {
	uint8_t alg;
	enum key_kind kind;
	enum md_index md;  /* the digest signed; MD_NONE for EdDSA (it hashes itself) */
	const char *curve; /* EC group name */
	uint16_t key_len;  /* fixed public key (and EC signature) length; RSA: minimum modulus bits */
};

/* RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7) are absent on purpose: RFC 9905 2,
 * "operators of validating resolvers MUST treat [them] as unsupported,
 * rendering responses insecure", which is also what RHEL 9's crypto policy
 * does. RSA sizes are RFC 5702 3: 512-4096 bits for SHA-256, 1024-4096 for
 * SHA-512. */
static const struct alg_info ALGS[] = {
	{ DNSSEC_ALG_RSASHA256, KIND_RSA, MD_SHA256, NULL, 512 },
	{ DNSSEC_ALG_RSASHA512, KIND_RSA, MD_SHA512, NULL, 1024 },
	{ DNSSEC_ALG_ECDSAP256SHA256, KIND_EC, MD_SHA256, "P-256", 64 }, /* RFC 6605 4 */
	{ DNSSEC_ALG_ECDSAP384SHA384, KIND_EC, MD_SHA384, "P-384", 96 },
	{ DNSSEC_ALG_ED25519, KIND_EDDSA, MD_NONE, NULL, 32 },           /* RFC 8080 3 */
	{ DNSSEC_ALG_ED448, KIND_EDDSA, MD_NONE, NULL, 57 },
};

static const char *const MD_NAMES[] = { "SHA256", "SHA384", "SHA512", "SHA1" };

static const struct alg_info *alg_find(uint8_t alg)
{
	for (size_t i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++)
		if (ALGS[i].alg == alg)
			return &ALGS[i];
	return NULL;
}

bool dnssec_algorithm_supported(uint8_t alg)
{
	return alg_find(alg) != NULL;
}

/* ---- building key objects ---- */

/* RFC 3110 2: exponent length (1 byte, or 0 then 2 bytes), exponent, modulus. */
static EVP_PKEY *pkey_rsa(const struct alg_info *ai, const uint8_t *k, size_t len)
{
	size_t off = 1, e_len;
	if (len < 3)
		return NULL;
	e_len = k[0];
	if (e_len == 0) {
		e_len = (size_t)(k[1] << 8 | k[2]);
		off = 3;
	}
	if (e_len == 0 || e_len > RSA_EXP_BYTES_MAX || off + e_len >= len)
		return NULL;

	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *e = BN_bin2bn(k + off, (int)e_len, NULL);
	BIGNUM *n = BN_bin2bn(k + off + e_len, (int)(len - off - e_len), NULL);
	if (!e || !n)
		goto out;
	int bits = BN_num_bits(n);
	if (bits < ai->key_len || bits > RSA_BITS_MAX)
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	BN_free(n);
	return pkey;
}

/* RFC 6605 4: the public key is x | y; OpenSSL wants the SEC1 point 04 | x | y. */
static EVP_PKEY *pkey_ec(const struct alg_info *ai, const uint8_t *k, size_t len)
{
	uint8_t point[1 + 96];
	if (len != ai->key_len)
		return NULL;
	point[0] = 0x04;
	memcpy(point + 1, k, len);

	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)ai->curve, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, len + 1),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *pkey_new(const struct alg_info *ai, const uint8_t *k, size_t len)
{
	switch (ai->kind) {
	case KIND_RSA:
		return pkey_rsa(ai, k, len);
	case KIND_EC:
		return pkey_ec(ai, k, len);
	case KIND_EDDSA:
		if (len != ai->key_len)
			return NULL;
		return EVP_PKEY_new_raw_public_key(
			ai->alg == DNSSEC_ALG_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448, NULL, k,
			len);
	}
	return NULL;
}

/* ---- the per-thread cache ---- */

/* A built key: the object, and for RSA and ECDSA a context initialised to
 * verify a digest with it (EVP_PKEY_verify: the digest is ours to compute). */
struct key_slot {
	uint32_t hash;
	uint8_t alg;
	uint16_t len;
	uint8_t *wire; /* a copy of the key bytes; NULL: the slot is empty */
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *vctx;
	uint64_t serial; /* never reused in the thread: names the key for the signature
			  * memory; 0 for a key not kept (no memory then) */
};

/* A signature that verified: what names its check, see sig_id(). */
struct sig_slot {
	bool used;
	uint8_t digest[SIG_DIGEST_LEN];
};

struct key_cache {
	struct key_slot slots[KEY_SLOTS];
	struct sig_slot sigs[SIG_SLOTS]; /* direct-mapped by the digest's first bytes */
	EVP_MD *md[MD_NONE]; /* fetched once: implicit fetches cost a lookup each time */
	EVP_MD_CTX *mdctx;   /* reused for every digest (and EdDSA's one-shot verify) */
	uint64_t serials;    /* the last key serial given */
	struct dnssec_key_stats stats;
};

static _Thread_local struct key_cache *tls_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void slot_clear(struct key_slot *s)
{
	EVP_PKEY_CTX_free(s->vctx);
	EVP_PKEY_free(s->pkey);
	free(s->wire);
	memset(s, 0, sizeof(*s));
}

static void cache_free(void *p)
{
	struct key_cache *c = p;
	if (!c)
		return;
	for (size_t i = 0; i < KEY_SLOTS; i++)
		slot_clear(&c->slots[i]);
	for (int i = 0; i < MD_NONE; i++)
		EVP_MD_free(c->md[i]);
	EVP_MD_CTX_free(c->mdctx);
	free(c);
}

static void cache_key_make(void)
{
	/* the destructor frees a thread's cache when it ends */
	(void)pthread_key_create(&cache_key, cache_free);
}

static struct key_cache *cache_get(void)
{
	if (tls_cache)
		return tls_cache;
	pthread_once(&cache_once, cache_key_make);
	struct key_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->mdctx = EVP_MD_CTX_new();
	for (int i = 0; i < MD_NONE; i++)
		c->md[i] = EVP_MD_fetch(NULL, MD_NAMES[i], NULL);
	if (!c->mdctx || !c->md[MD_SHA256] || !c->md[MD_SHA384] || !c->md[MD_SHA512] ||
	    !c->md[MD_SHA1]) {
		cache_free(c);
		ERR_clear_error();
		return NULL;
	}
	tls_cache = c;
	(void)pthread_setspecific(cache_key, c);
	return c;
}

void dnssec_key_cache_flush(void)
{
	if (!tls_cache)
		return;
	(void)pthread_setspecific(cache_key, NULL);
	cache_free(tls_cache);
	tls_cache = NULL;
}

void dnssec_key_stats(struct dnssec_key_stats *out)
{
	if (tls_cache)
		*out = tls_cache->stats;
	else
		memset(out, 0, sizeof(*out));
}

static uint32_t key_hash(uint8_t alg, const uint8_t *k, size_t len)
{
	uint32_t h = 2166136261u ^ alg; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* A slot holding the key object for (@ai, @k), built now when it was not
 * there. With no cache (out of memory) or a key too big to keep, @tmp is
 * filled instead and must be cleared by the caller. NULL when the key does not
 * parse or OpenSSL fails. */
static struct key_slot *key_get(struct key_cache *c, const struct alg_info *ai,
				const uint8_t *k, size_t len, struct key_slot *tmp)
{
	uint32_t h = key_hash(ai->alg, k, len);
	struct key_slot *s = &c->slots[h % KEY_SLOTS];
	if (s->wire && s->hash == h && s->alg == ai->alg && s->len == len &&
	    memcmp(s->wire, k, len) == 0) {
		c->stats.hits++;
		return s;
	}
	c->stats.builds++;
	struct key_slot fresh = { .hash = h, .alg = ai->alg, .len = (uint16_t)len };
	fresh.pkey = pkey_new(ai, k, len);
	if (!fresh.pkey)
		return NULL;
	if (ai->kind != KIND_EDDSA) {
		fresh.vctx = EVP_PKEY_CTX_new_from_pkey(NULL, fresh.pkey, NULL);
		if (!fresh.vctx || EVP_PKEY_verify_init(fresh.vctx) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(fresh.vctx, c->md[ai->md]) <= 0) {
			slot_clear(&fresh);
			return NULL;
		}
	}
	if (len <= KEY_CACHED_MAX && (fresh.wire = malloc(len ? len : 1)) != NULL) {
		memcpy(fresh.wire, k, len);
		fresh.serial = ++c->serials;
		slot_clear(s);
		*s = fresh;
		return s;
	}
	*tmp = fresh;
	return tmp;
}

/* ---- the check ---- */

/* One DER INTEGER from the big-endian unsigned @v (@n bytes) at @out. */
static size_t der_int(const uint8_t *v, size_t n, uint8_t *out)
{
	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	size_t pad = (v[0] & 0x80) ? 1 : 0;
	out[0] = 0x02;
	out[1] = (uint8_t)(n + pad);
	out[2] = 0;
	memcpy(out + 2 + pad, v, n);
	return 2 + pad + n;
}

/* RFC 6605 4: the signature is r | s, each half the length; OpenSSL wants
 * DER. For P-256 and P-384 the whole fits a one-byte length (at most 102). */
static size_t ecdsa_der(const uint8_t *sig, size_t len, uint8_t der[2 + 2 * 51])
{
	size_t at = 2;
	at += der_int(sig, len / 2, der + at);
	at += der_int(sig + len / 2, len / 2, der + at);
	der[0] = 0x30;
	der[1] = (uint8_t)(at - 2);
	return at;
}

/* @msg is what the key signed: the digest of the data for RSA and ECDSA
 * (dnssec_sig_check() computes it), the data itself for EdDSA. */
static bool check(struct key_cache *c, const struct alg_info *ai, struct key_slot *s,
		  const uint8_t *sig, size_t sig_len, const uint8_t *msg, size_t msg_len)
{
	if (ai->kind == KIND_EDDSA) {
		/* EdDSA signs the message itself: one-shot, a key context per
		 * call; reset after, so the digests find a plain context */
		bool ok = EVP_DigestVerifyInit_ex(c->mdctx, NULL, NULL, NULL, NULL, s->pkey, NULL) == 1 &&
			  EVP_DigestVerify(c->mdctx, sig, sig_len, msg, msg_len) == 1;
		EVP_MD_CTX_reset(c->mdctx);
		return ok;
	}
	uint8_t der[2 + 2 * 51];
	if (ai->kind == KIND_EC) {
		sig_len = ecdsa_der(sig, sig_len, der);
		sig = der;
	}
	return EVP_PKEY_verify(s->vctx, sig, sig_len, msg, msg_len) == 1;
}

static bool digest(struct key_cache *c, enum md_index md, const uint8_t *data, size_t len,
		   uint8_t out[EVP_MAX_MD_SIZE], unsigned *out_len)
{
	return EVP_DigestInit_ex2(c->mdctx, c->md[md], NULL) == 1 &&
	       EVP_DigestUpdate(c->mdctx, data, len) == 1 &&
	       EVP_DigestFinal_ex(c->mdctx, out, out_len) == 1;
}

/* What names one check in the signature memory: SHA-256 of the key's serial
 * (the key bytes it stands for, see key_get()), the algorithm, the signature
 * after its 16-bit length (no two different inputs read the same), and @msg
 * as check() takes it. */
static bool sig_id(struct key_cache *c, uint64_t serial, uint8_t alg, const uint8_t *sig,
		   size_t sig_len, const uint8_t *msg, size_t msg_len, uint8_t out[SIG_DIGEST_LEN])
{
	if (sig_len > UINT16_MAX)
		return false;
	uint8_t head[11];
	for (int i = 0; i < 8; i++)
		head[i] = (uint8_t)(serial >> (56 - 8 * i));
	head[8] = alg;
	head[9] = (uint8_t)(sig_len >> 8);
	head[10] = (uint8_t)sig_len;
	return EVP_DigestInit_ex2(c->mdctx, c->md[MD_SHA256], NULL) == 1 &&
	       EVP_DigestUpdate(c->mdctx, head, sizeof(head)) == 1 &&
	       EVP_DigestUpdate(c->mdctx, sig, sig_len) == 1 &&
	       EVP_DigestUpdate(c->mdctx, msg, msg_len) == 1 &&
	       EVP_DigestFinal_ex(c->mdctx, out, NULL) == 1;
}

static struct sig_slot *sig_slot_of(struct key_cache *c, const uint8_t id[SIG_DIGEST_LEN])
{
	uint32_t i = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
	return &c->sigs[i % SIG_SLOTS];
}

bool dnssec_sig_check(uint8_t alg, const uint8_t *key, size_t key_len, const uint8_t *sig,
		      size_t sig_len, const uint8_t *data, size_t data_len)
{
	const struct alg_info *ai = alg_find(alg);
	if (!ai || sig_len == 0 || (ai->kind == KIND_EC && sig_len != ai->key_len))
		return false;
	struct key_cache *c = cache_get();
	if (!c)
		return false;
	struct key_slot tmp = { 0 };
	struct key_slot *s = key_get(c, ai, key, key_len, &tmp);
	bool ok = s != NULL;
	const uint8_t *msg = data;
	size_t msg_len = data_len;
	uint8_t md[EVP_MAX_MD_SIZE];
	if (ok && ai->kind != KIND_EDDSA) {
		unsigned md_len = 0;
		ok = digest(c, ai->md, data, data_len, md, &md_len);
		msg = md;
		msg_len = md_len;
	}
	uint8_t id[SIG_DIGEST_LEN];
	struct sig_slot *seen = NULL;
	if (ok && s->serial && sig_id(c, s->serial, alg, sig, sig_len, msg, msg_len, id)) {
		seen = sig_slot_of(c, id);
		if (seen->used && memcmp(seen->digest, id, SIG_DIGEST_LEN) == 0) {
			c->stats.sig_hits++;
			goto out;
		}
	}
	if (ok) {
		c->stats.sig_checks++;
		ok = check(c, ai, s, sig, sig_len, msg, msg_len);
	}
	if (ok && seen) {
		seen->used = true;
		memcpy(seen->digest, id, SIG_DIGEST_LEN);
	}
out:
	if (s == &tmp)
		slot_clear(&tmp);
	if (!ok)
		ERR_clear_error();
	return ok;
}

bool dnssec_ds_hash(uint8_t digest_type, const uint8_t *a, size_t a_len, const uint8_t *b,
		    size_t b_len, uint8_t out[DNSSEC_DS_HASH_MAX])
{
	enum md_index md = digest_type == DNSSEC_DIGEST_SHA1     ? MD_SHA1
			   : digest_type == DNSSEC_DIGEST_SHA256 ? MD_SHA256
			   : digest_type == DNSSEC_DIGEST_SHA384 ? MD_SHA384
								  : MD_NONE;
	struct key_cache *c = md == MD_NONE ? NULL : cache_get();
	if (!c)
		return false;
	bool ok = EVP_DigestInit_ex2(c->mdctx, c->md[md], NULL) == 1 &&
		  EVP_DigestUpdate(c->mdctx, a, a_len) == 1 &&
		  EVP_DigestUpdate(c->mdctx, b, b_len) == 1 &&
		  EVP_DigestFinal_ex(c->mdctx, out, NULL) == 1;
	if (!ok)
		ERR_clear_error();
	return ok;
}
