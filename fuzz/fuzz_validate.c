/* fuzz/fuzz_validate: libFuzzer target for the DNSSEC core (resolver/dnssec*).
 * The input is a DNS message; its answer and authority RRs are grouped into
 * RRsets (as the resolver does, names decompressed by rr_rdata_unpack) and
 * each goes through dnssec_verify_rrset() against a fixed set of keys (the RFC
 * 5702, 6605 and 8080 example keys, so seeds built from those RFCs verify) and
 * against the message's own DNSKEYs; DNSKEY RRsets through
 * dnssec_validate_dnskeys(); the NSEC/NSEC3 RRsets through the three denial
 * proofs for the question. The clock is the first RRSIG's inception + 1 h, so
 * old RFC signatures are in their window. Any broken invariant aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "proto/wire.h"
#include "resolver/dnssec.h"
#include "resolver/rrset.h"
#include "fuzz/fuzz.h"

#define SETS_MAX 64

/* RDATA of the fixed keys: flags 256/257, protocol 3, algorithm, key. */
static const uint8_t KEY_RSA256[] = { /* RFC 5702 6.1, example.net., tag 9033 */
	0x01, 0x00, 0x03, 0x08, 0x03, 0x01, 0x00, 0x01, 0xc1, 0x5c, 0x1a, 0xc6, 0xb1, 0xc5, 0xd8,
	0x22, 0xba, 0xe1, 0xa6, 0x0a, 0x45, 0x48, 0x9b, 0x2e, 0x21, 0xf7, 0xd0, 0xaa, 0x4f, 0xb8,
	0xf0, 0x63, 0x7a, 0x5e, 0xc4, 0xf1, 0x9c, 0x9d, 0x41, 0x6d, 0x47, 0x61, 0x61, 0xdf, 0xa0,
	0x69, 0xa2, 0x77, 0x30, 0xb6, 0x46, 0x78, 0x70, 0x08, 0x2d, 0xbd, 0xde, 0x10, 0xb3, 0xc3,
	0xe4, 0xc5, 0x47, 0x69, 0xea, 0x9f, 0xc3, 0x95, 0x49, 0x8e, 0x6d, 0xd9
};
static const uint8_t KEY_P256[] = { /* RFC 6605 6.1, example.net., tag 55648 */
	0x01, 0x01, 0x03, 0x0d, 0x1a, 0x88, 0xc8, 0x86, 0x15, 0xd4, 0x37, 0xfb, 0xb8, 0xbf, 0x9e,
	0x19, 0x42, 0xa1, 0x92, 0x9f, 0x28, 0x56, 0x27, 0x06, 0xae, 0x6c, 0x2b, 0xd3, 0x99, 0xe7,
	0xb1, 0xbf, 0xb6, 0xd1, 0xe9, 0xe7, 0x5b, 0x92, 0xb4, 0xaa, 0x42, 0x91, 0x7a, 0xe1, 0xc6,
	0x1b, 0x70, 0x1e, 0xf0, 0x35, 0xc3, 0xfe, 0x7b, 0xe3, 0x00, 0x9c, 0xba, 0xfe, 0x5a, 0x2f,
	0x71, 0x31, 0x6c, 0x90, 0x2d, 0xcf, 0x0d, 0x00
};
static const uint8_t KEY_ED25519[] = { /* RFC 8080 6.1, example.com., tag 3613 */
	0x01, 0x01, 0x03, 0x0f, 0x97, 0x4d, 0x96, 0xa2, 0x2d, 0x22, 0x4b, 0xc0, 0x1a, 0xdb, 0x91,
	0x50, 0x91, 0x47, 0x7d, 0x44, 0xcc, 0xd9, 0x1c, 0x9a, 0x41, 0xa1, 0x14, 0x30, 0x01, 0x01,
	0x17, 0xd5, 0x2c, 0x59, 0x24, 0x0e
};
/* RFC 8080 6.1: example.com. DS 3613 15 2 3aa5ab37... */
static const uint8_t DS_ED25519[] = {
	0x0e, 0x1d, 0x0f, 0x02, 0x3a, 0xa5, 0xab, 0x37, 0xef, 0xce, 0x57, 0xf7, 0x37, 0xfc, 0x16,
	0x27, 0x01, 0x3f, 0xee, 0x07, 0xbd, 0xf2, 0x41, 0xbd, 0x10, 0xf3, 0xb1, 0x96, 0x4a, 0xb5,
	0x5c, 0x78, 0xe7, 0x9a, 0x30, 0x4b
};

static uint8_t payload[2][512];

/* An RRset of @owner/@type from RDATAs (FORMAT: cache-payload) in @buf. */
static struct rrset fixed_set(const uint8_t *owner, uint16_t type, uint8_t *buf,
			      const uint8_t *const rd[], const size_t len[], int n)
{
	struct rrset s = { .owner = (uint8_t *)owner, .type = type, .ttl_s = 3600,
			   .orig_ttl_s = 3600 };
	for (int i = 0; i < n; i++) {
		buf[s.rdata_len] = (uint8_t)(len[i] >> 8);
		buf[s.rdata_len + 1] = (uint8_t)len[i];
		memcpy(buf + s.rdata_len + 2, rd[i], len[i]);
		s.rdata_len += 2 + (uint32_t)len[i];
		s.n_rdata++;
	}
	s.rdata = buf;
	return s;
}

static const uint8_t NET[] = "\7example\3net";
static const uint8_t COM[] = "\7example\3com";

struct sets {
	struct rrset *v[SETS_MAX];
	int n;
};

/* Append the RR to the RRset with its owner and type, made in @a. */
static void add_rr(struct arena *a, struct sets *s, const uint8_t *owner, uint16_t type,
		   uint32_t ttl, const uint8_t *rd, int rdlen)
{
	struct rrset *set = NULL;
	for (int i = 0; i < s->n && !set; i++)
		if (s->v[i]->type == type && name_equal(s->v[i]->owner, owner))
			set = s->v[i];
	if (!set) {
		if (s->n == SETS_MAX || !(set = arena_zalloc(a, sizeof(*set))))
			return;
		set->owner = arena_memdup(a, owner, name_len(owner));
		set->type = type;
		set->ttl_s = set->orig_ttl_s = ttl;
		if (!set->owner)
			return;
		s->v[s->n++] = set;
	}
	uint8_t *grown = arena_alloc(a, set->rdata_len + 2u + (size_t)rdlen);
	if (!grown)
		return;
	if (set->rdata_len)
		memcpy(grown, set->rdata, set->rdata_len);
	grown[set->rdata_len] = (uint8_t)(rdlen >> 8);
	grown[set->rdata_len + 1] = (uint8_t)rdlen;
	memcpy(grown + set->rdata_len + 2, rd, (size_t)rdlen);
	set->rdata = grown;
	set->rdata_len += 2u + (uint32_t)rdlen;
	set->n_rdata++;
}

static void check_result(const struct rrset *set, enum dnssec_verdict v,
			 const struct dnssec_result *r, const struct dnssec_budget *b)
{
	CHECK(v == r->verdict);
	CHECK(v >= DNSSEC_INSECURE && v <= DNSSEC_INDETERMINATE);
	CHECK((v == DNSSEC_SECURE) == (r->reason == DNSSEC_R_NONE));
	if (v == DNSSEC_SECURE) {
		CHECK(r->ttl_cap_s <= set->ttl_s);
		CHECK(!r->wildcard || r->wildcard_labels < name_labels(set->owner));
	}
	CHECK(b->sig_checks_done + b->sig_checks_left == DNSSEC_SIG_CHECKS_MAX);
	CHECK(b->digests_done + b->digests_left == DNSSEC_DIGESTS_MAX);
	CHECK(dnssec_reason_text(r->reason) != NULL);
}

static void check_denial(const uint8_t *qname, enum dnssec_verdict v,
			 const struct dnssec_denial *d, const struct dnssec_budget *b)
{
	CHECK(v == d->verdict);
	CHECK(v >= DNSSEC_INSECURE && v <= DNSSEC_INDETERMINATE);
	CHECK((v == DNSSEC_SECURE) == (d->reason == DNSSEC_R_NONE));
	CHECK((v == DNSSEC_BOGUS) == (d->proof == DNSSEC_PROOF_NONE) ||
	      d->reason == DNSSEC_R_NSEC3_ITERATIONS || d->reason == DNSSEC_R_UNSUPPORTED_ALG);
	if (d->closest_encloser[0])
		CHECK(name_is_under(qname, d->closest_encloser));
	CHECK(b->nsec3_hashes_done + b->nsec3_hashes_left == DNSSEC_NSEC3_HASHES_MAX);
	CHECK(b->nsec3_sha1_done <= b->nsec3_hashes_done * (DNSSEC_NSEC3_ITERATIONS_MAX + 1u));
}

/* The first RRSIG's inception + 1 h, or a fixed time. */
static uint64_t pick_now(const struct sets *s)
{
	for (int i = 0; i < s->n; i++) {
		uint16_t len;
		const uint8_t *rd;
		if (s->v[i]->type == TYPE_RRSIG && (rd = rrset_rdata_first(s->v[i], &len)) && len >= 16)
			return ((uint32_t)rd[12] << 24 | (uint32_t)rd[13] << 16 | (uint32_t)rd[14] << 8 | rd[15]) +
			       3600u;
	}
	return 1700000000u;
}

/* RRSIGs over @set's owner, or NULL. */
static const struct rrset *sigs_for(const struct sets *s, const struct rrset *set)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i]->type == TYPE_RRSIG && name_equal(s->v[i]->owner, set->owner))
			return s->v[i];
	return NULL;
}

static void run(struct arena *a, const struct msg *m)
{
	static uint8_t rdata[UINT16_MAX];
	struct sets s = { .n = 0 };
	uint8_t owner[NAME_MAX_WIRE];

	for (int sec = SEC_ANSWER; sec <= SEC_AUTHORITY; sec++) {
		struct rr_iter it;
		struct rr_view rr;
		rr_iter_init(m, &it, sec);
		while (rr_next(m, &it, &rr)) {
			int rdlen = rr_rdata_unpack(m, &rr, rdata, sizeof(rdata));
			if (rr.type == TYPE_OPT || rdlen < 0 || rr_owner(m, &rr, owner) < 0)
				continue;
			add_rr(a, &s, owner, rr.type, rr.ttl, rdata, rdlen);
		}
	}

	uint64_t now = pick_now(&s);
	const uint8_t *const net_rd[] = { KEY_RSA256, KEY_P256 };
	const size_t net_len[] = { sizeof(KEY_RSA256), sizeof(KEY_P256) };
	const uint8_t *const com_rd[] = { KEY_ED25519 };
	const size_t com_len[] = { sizeof(KEY_ED25519) };
	struct rrset net_keys = fixed_set(NET, TYPE_DNSKEY, payload[0], net_rd, net_len, 2);
	struct rrset com_keys = fixed_set(COM, TYPE_DNSKEY, payload[1], com_rd, com_len, 1);
	uint8_t ds_buf[64];
	const uint8_t *const ds_rd[] = { DS_ED25519 };
	const size_t ds_len[] = { sizeof(DS_ED25519) };
	struct rrset com_ds = fixed_set(COM, TYPE_DS, ds_buf, ds_rd, ds_len, 1);

	struct rrset *proofs = NULL;
	const uint8_t *zone = NULL;
	for (int i = 0; i < s.n; i++) {
		struct rrset *set = s.v[i];
		const struct rrset *sigs = sigs_for(&s, set);
		struct dnssec_budget b;
		struct dnssec_result r;
		enum dnssec_verdict v;
		if (set->type == TYPE_RRSIG)
			continue;
		/* the fixed keys, for the zone the owner is in */
		const struct rrset *keys = name_is_under(set->owner, COM) ? &com_keys : &net_keys;
		dnssec_budget_init(&b);
		v = dnssec_verify_rrset(set, sigs, keys, keys->owner, now, &b, &r);
		check_result(set, v, &r, &b);
		/* the message's own DNSKEYs for its owner's parent zones */
		for (int j = 0; j < s.n; j++) {
			if (s.v[j]->type != TYPE_DNSKEY || !name_is_under(set->owner, s.v[j]->owner))
				continue;
			dnssec_budget_init(&b);
			v = dnssec_verify_rrset(set, sigs, s.v[j], s.v[j]->owner, now, &b, &r);
			check_result(set, v, &r, &b);
		}
		if (set->type == TYPE_DNSKEY) {
			dnssec_budget_init(&b);
			com_ds.owner = set->owner; /* the fixed DS, for whichever zone */
			v = dnssec_validate_dnskeys(set, sigs, &com_ds, keys, now, &b, &r);
			check_result(set, v, &r, &b);
			com_ds.owner = (uint8_t *)COM;
		}
		if (set->type == TYPE_SOA && !zone)
			zone = set->owner;
		if (set->type == TYPE_NSEC || set->type == TYPE_NSEC3) {
			set->next = proofs;
			proofs = set;
			if (!zone)
				zone = set->type == TYPE_NSEC3 && set->owner[0] ? name_parent(set->owner)
										: set->owner;
			/* aggressive use: an NSEC never covers its own owner or next */
			uint16_t len;
			const uint8_t *rd = rrset_rdata_first(set, &len), *next, *bm;
			uint16_t bm_len;
			if (set->type == TYPE_NSEC && rd &&
			    dnssec_nsec_parse(rd, len, &next, &bm, &bm_len) == 0) {
				CHECK(!dnssec_nsec_covers(set->owner, next, set->owner));
				CHECK(!dnssec_nsec_covers(set->owner, next, next));
			}
		}
	}

	if (!m->hdr.qdcount || !zone)
		return;
	struct dnssec_budget b;
	struct dnssec_denial d;
	enum dnssec_verdict v;
	dnssec_budget_init(&b);
	v = dnssec_prove_nxdomain(m->qname, zone, proofs, &b, &d);
	check_denial(m->qname, v, &d, &b);
	dnssec_budget_init(&b);
	v = dnssec_prove_nodata(m->qname, m->qtype, zone, proofs, &b, &d);
	check_denial(m->qname, v, &d, &b);
	int labels = name_labels(m->qname);
	for (int l = labels > 3 ? labels - 3 : 0; l < labels; l++) {
		dnssec_budget_init(&b);
		v = dnssec_prove_wildcard(m->qname, (uint8_t)l, zone, proofs, &b, &d);
		check_denial(m->qname, v, &d, &b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg m;
	const char *why;
	if (msg_parse(&m, data, size, &why) != 0)
		return 0;
	struct arena *a = arena_create(4u << 20);
	if (!a)
		return 0;
	run(a, &m);
	arena_destroy(a);
	return 0;
}
