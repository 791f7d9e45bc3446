/* tests/unit/resolver/test_dnssec_util: see test_dnssec_util.h. */
#include "test_dnssec_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rand.h>

#include "base/arena.h"
#include "proto/wire.h"
#include "resolver/dnssec.h"

struct arena *T;

int t_setup(void **state)
{
	(void)state;
	T = arena_create(64u << 20);
	return T ? 0 : -1;
}

int t_teardown(void **state)
{
	(void)state;
	arena_destroy(T);
	T = NULL;
	return 0;
}

uint8_t *t_name(const char *text)
{
	uint8_t buf[NAME_MAX_WIRE];
	int len = name_from_text(text, buf);
	assert_true(len > 0);
	return arena_memdup(T, buf, (size_t)len);
}

/* Append (u16 len, rd) to @s's payload. FORMAT: cache-payload */
static void payload_add(struct rrset *s, const uint8_t *rd, size_t len)
{
	uint8_t *grown = arena_alloc(T, s->rdata_len + 2 + len);
	assert_non_null(grown);
	if (s->rdata_len)
		memcpy(grown, s->rdata, s->rdata_len);
	grown[s->rdata_len] = (uint8_t)(len >> 8);
	grown[s->rdata_len + 1] = (uint8_t)len;
	memcpy(grown + s->rdata_len + 2, rd, len);
	s->rdata = grown;
	s->rdata_len += 2 + (uint32_t)len;
	s->n_rdata++;
}

struct rrset *t_rrset(const char *text)
{
	struct rrset *s = arena_zalloc(T, sizeof(*s));
	assert_non_null(s);
	char *copy = strdup(text), *save = NULL;
	assert_non_null(copy);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL);
		if (st != LDNS_STATUS_OK)
			fail_msg("ldns cannot parse \"%s\": %s", line, ldns_get_errorstr_by_id(st));
		ldns_rdf *owner = ldns_rr_owner(rr);
		if (!s->owner) {
			s->owner = arena_memdup(T, ldns_rdf_data(owner), ldns_rdf_size(owner));
			s->type = (uint16_t)ldns_rr_get_type(rr);
			s->ttl_s = s->orig_ttl_s = ldns_rr_ttl(rr);
		}
		ldns_buffer *buf = ldns_buffer_new(1024);
		assert_int_equal(ldns_rr_rdata2buffer_wire(buf, rr), LDNS_STATUS_OK);
		payload_add(s, ldns_buffer_begin(buf), ldns_buffer_position(buf));
		ldns_buffer_free(buf);
		ldns_rr_free(rr);
	}
	free(copy);
	return s;
}

struct rrset *t_list(struct rrset *first, ...)
{
	va_list ap;
	va_start(ap, first);
	struct rrset *prev = first;
	for (struct rrset *s = va_arg(ap, struct rrset *); s; s = va_arg(ap, struct rrset *)) {
		prev->next = s;
		prev = s;
	}
	prev->next = NULL;
	va_end(ap);
	return first;
}

uint64_t t_time(const char *stamp)
{
	struct tm tm = { 0 };
	assert_int_equal(sscanf(stamp, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec),
			 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (uint64_t)timegm(&tm);
}

static size_t bn_out(const EVP_PKEY *pkey, const char *param, uint8_t *out)
{
	BIGNUM *bn = NULL;
	assert_int_equal(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
	size_t len = (size_t)BN_num_bytes(bn);
	BN_bn2bin(bn, out);
	BN_free(bn);
	return len;
}

static void key_rdata_header(struct t_key *k)
{
	k->rdata[0] = (uint8_t)(k->flags >> 8);
	k->rdata[1] = (uint8_t)k->flags;
	k->rdata[2] = 3;
	k->rdata[3] = k->alg;
}

void t_key_gen(struct t_key *k, uint8_t alg, uint16_t flags)
{
	memset(k, 0, sizeof(*k));
	k->alg = alg;
	k->flags = flags;
	key_rdata_header(k);
	uint8_t *pub = k->rdata + 4;
	size_t len = 0;
	switch (alg) {
	case DNSSEC_ALG_RSASHA256:
	case DNSSEC_ALG_RSASHA512: {
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
		assert_non_null(k->pkey);
		uint8_t e[16], n[512];
		size_t el = bn_out(k->pkey, OSSL_PKEY_PARAM_RSA_E, e);
		size_t nl = bn_out(k->pkey, OSSL_PKEY_PARAM_RSA_N, n);
		pub[0] = (uint8_t)el; /* RFC 3110 2 */
		memcpy(pub + 1, e, el);
		memcpy(pub + 1 + el, n, nl);
		len = 1 + el + nl;
		break;
	}
	case DNSSEC_ALG_ECDSAP256SHA256:
	case DNSSEC_ALG_ECDSAP384SHA384: {
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
					    alg == DNSSEC_ALG_ECDSAP256SHA256 ? "P-256" : "P-384");
		assert_non_null(k->pkey);
		uint8_t point[128];
		assert_int_equal(EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY,
								 point, sizeof(point), &len),
				 1);
		assert_int_equal(point[0], 0x04);
		memcpy(pub, point + 1, --len); /* RFC 6605 4: x | y */
		break;
	}
	case DNSSEC_ALG_ED25519:
	case DNSSEC_ALG_ED448:
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL,
					    alg == DNSSEC_ALG_ED25519 ? "ED25519" : "ED448");
		assert_non_null(k->pkey);
		len = 57;
		assert_int_equal(EVP_PKEY_get_raw_public_key(k->pkey, pub, &len), 1);
		break;
	default:
		/* an algorithm nobody knows: 32 random bytes */
		assert_int_equal(RAND_bytes(pub, 32), 1);
		len = 32;
	}
	k->rdlen = (uint16_t)(4 + len);
	k->tag = dnssec_key_tag(k->rdata, k->rdlen);
}

void t_key_fake(struct t_key *k, uint8_t alg, uint16_t flags, uint16_t tag)
{
	memset(k, 0, sizeof(*k));
	k->alg = alg;
	k->flags = flags;
	key_rdata_header(k);
	k->rdlen = 4 + 32;
	assert_int_equal(RAND_bytes(k->rdata + 4, 32), 1);
	/* the last 16-bit word (offset 34, even) moves the key tag through every value */
	for (uint32_t w = 0; w <= 0xffff; w++) {
		k->rdata[34] = (uint8_t)(w >> 8);
		k->rdata[35] = (uint8_t)w;
		if (dnssec_key_tag(k->rdata, k->rdlen) == tag)
			break;
	}
	k->tag = dnssec_key_tag(k->rdata, k->rdlen);
	assert_int_equal(k->tag, tag);
}

void t_key_free(struct t_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

struct rrset *t_dnskeys(const char *zone, struct t_key **keys, int n)
{
	struct rrset *s = arena_zalloc(T, sizeof(*s));
	assert_non_null(s);
	s->owner = t_name(zone);
	s->type = TYPE_DNSKEY;
	s->ttl_s = s->orig_ttl_s = 3600;
	for (int i = 0; i < n; i++)
		payload_add(s, keys[i]->rdata, keys[i]->rdlen);
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* EVP signature, converted to DNSSEC form for ECDSA (RFC 6605 4: r | s). */
static size_t sign_bytes(const struct t_key *k, const uint8_t *data, size_t len, uint8_t *sig)
{
	const char *md = NULL;
	size_t half = 0;
	switch (k->alg) {
	case DNSSEC_ALG_RSASHA256: md = "SHA256"; break;
	case DNSSEC_ALG_RSASHA512: md = "SHA512"; break;
	case DNSSEC_ALG_ECDSAP256SHA256: md = "SHA256"; half = 32; break;
	case DNSSEC_ALG_ECDSAP384SHA384: md = "SHA384"; half = 48; break;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k->pkey, NULL), 1);
	uint8_t raw[1024];
	size_t raw_len = sizeof(raw);
	assert_int_equal(EVP_DigestSign(ctx, raw, &raw_len, data, len), 1);
	EVP_MD_CTX_free(ctx);
	if (!half) {
		memcpy(sig, raw, raw_len);
		return raw_len;
	}
	const uint8_t *p = raw;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)raw_len);
	assert_non_null(es);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half);
	ECDSA_SIG_free(es);
	return 2 * half;
}

struct rrset *t_sign(const struct rrset *set, const struct t_key *k, const struct t_sig *p)
{
	uint8_t signer[NAME_MAX_WIRE];
	int signer_len = name_from_text(p->signer, signer);
	assert_true(signer_len > 0);
	int owner_labels = name_labels(set->owner);
	int labels = p->labels >= 0 ? p->labels : owner_labels;
	uint32_t orig_ttl = p->orig_ttl ? p->orig_ttl : set->ttl_s;

	/* RRSIG RDATA without the signature (RFC 4034 3.1) */
	uint8_t rd[2048];
	put16(rd, p->covered ? p->covered : set->type);
	rd[2] = p->alg ? p->alg : k->alg;
	rd[3] = (uint8_t)labels;
	put32(rd + 4, orig_ttl);
	put32(rd + 8, (uint32_t)p->expiration);
	put32(rd + 12, (uint32_t)p->inception);
	put16(rd + 16, k->tag);
	memcpy(rd + 18, signer, (size_t)signer_len);
	size_t fixed = 18 + (size_t)signer_len;

	/* the signed data: that, then every RR in the order given (RFC 4034 3.1.8.1) */
	uint8_t owner[NAME_MAX_WIRE + 2];
	size_t owner_len;
	if (labels < owner_labels) {
		const uint8_t *suffix = name_suffix(set->owner, labels);
		owner[0] = 1;
		owner[1] = '*';
		owner_len = 2 + name_len(suffix);
		memcpy(owner + 2, suffix, owner_len - 2);
	} else {
		owner_len = name_len(set->owner);
		memcpy(owner, set->owner, owner_len);
	}
	size_t cap = fixed + set->rdata_len + set->n_rdata * (owner_len + 10);
	uint8_t *data = malloc(cap), *w = data;
	assert_non_null(data);
	memcpy(w, rd, fixed);
	w += fixed;
	uint32_t off = 0;
	const uint8_t *r;
	uint16_t len;
	while (rrset_rdata_next(set, &off, &r, &len)) {
		memcpy(w, owner, owner_len);
		w += owner_len;
		put16(w, set->type);
		put16(w + 2, 1);
		put32(w + 4, orig_ttl);
		put16(w + 8, len);
		memcpy(w + 10, r, len);
		w += 10 + len;
	}
	uint8_t sig[1024];
	size_t sig_len;
	if (k->pkey) {
		sig_len = sign_bytes(k, data, (size_t)(w - data), sig);
	} else { /* a fake key signs with noise */
		sig_len = 64;
		assert_int_equal(RAND_bytes(sig, (int)sig_len), 1);
	}
	free(data);
	memcpy(rd + fixed, sig, sig_len);

	struct rrset *s = arena_zalloc(T, sizeof(*s));
	assert_non_null(s);
	s->owner = set->owner;
	s->type = TYPE_RRSIG;
	s->ttl_s = s->orig_ttl_s = set->ttl_s;
	payload_add(s, rd, fixed + sig_len);
	return s;
}

struct rrset *t_merge(const struct rrset *a, const struct rrset *b)
{
	struct rrset *s = arena_zalloc(T, sizeof(*s));
	assert_non_null(s);
	*s = *a;
	s->next = NULL;
	s->rdata = NULL;
	s->rdata_len = 0;
	s->n_rdata = 0;
	const struct rrset *parts[] = { a, b };
	for (int i = 0; i < 2; i++) {
		uint32_t off = 0;
		const uint8_t *r;
		uint16_t len;
		while (rrset_rdata_next(parts[i], &off, &r, &len))
			payload_add(s, r, len);
	}
	return s;
}
