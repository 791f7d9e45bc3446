/* tests/unit/resolver/test_dnssec_util: helpers shared by the DNSSEC tests:
 * records from presentation text (ldns), keys generated with OpenSSL, and an
 * RRSIG signer written independently of resolver/dnssec_sig.c (it signs the
 * records in the order and case given, so tests feed it canonical RRsets).
 * Everything is allocated in the arena T, created and destroyed per test. */
#pragma once

#include <stdint.h>

#include <openssl/evp.h>

#include "resolver/rrset.h"

extern struct arena *T;

int t_setup(void **state);
int t_teardown(void **state);

/** A wire name from text, in T. */
uint8_t *t_name(const char *text);
/** An RRset from one or more records in zone-file format, one per line, all
 * with the same owner and type (the first record's TTL is the set's). */
struct rrset *t_rrset(const char *text);
/** Link the RRsets into a list (->next), NULL-terminated arguments. */
struct rrset *t_list(struct rrset *first, ...);
/** "YYYYMMDDHHMMSS" (UTC) as seconds since the epoch. */
uint64_t t_time(const char *stamp);

/** A generated key pair and its DNSKEY RDATA. */
struct t_key {
	EVP_PKEY *pkey; /* NULL for a fake key (see t_key_fake) */
	uint8_t alg;
	uint16_t flags, tag, rdlen;
	uint8_t rdata[1100];
};

/** Generate a key of algorithm @alg (8, 10: 1024-bit RSA; 13, 14, 15, 16). */
void t_key_gen(struct t_key *k, uint8_t alg, uint16_t flags);
/** A public key of algorithm @alg with random bytes, tuned until its key tag is
 * @tag: it verifies nothing (the KeyTrap shape). */
void t_key_fake(struct t_key *k, uint8_t alg, uint16_t flags, uint16_t tag);
void t_key_free(struct t_key *k);
/** The DNSKEY RRset of @zone holding @n keys. */
struct rrset *t_dnskeys(const char *zone, struct t_key **keys, int n);

/** Parameters of one RRSIG made by t_sign(). */
struct t_sig {
	const char *signer;      /* default: the key's zone is not known, so required */
	int labels;              /* -1: the owner's label count */
	uint32_t orig_ttl;       /* 0: the set's TTL */
	uint64_t inception, expiration;
	uint16_t covered;        /* 0: the set's type */
	uint8_t alg;             /* 0: the key's */
};

/** An RRSIG RRset (one RDATA) over @set made with @k. The signed data is built
 * from @set as given (owner, order and case), or with the "*." owner when
 * labels < owner labels. TTL: the set's. */
struct rrset *t_sign(const struct rrset *set, const struct t_key *k, const struct t_sig *p);
/** One RRSIG RRset holding the RDATAs of @a and @b. */
struct rrset *t_merge(const struct rrset *a, const struct rrset *b);
