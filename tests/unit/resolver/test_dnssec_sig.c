/* tests for resolver/dnssec_sig: known-answer vectors from RFC 5702, 6605,
 * 8080 and 4034; every algorithm with keys generated here; the RRSIG checks
 * (time, signer, labels, wildcard, TTL cap, canonical form); DS <-> DNSKEY;
 * unsupported algorithms and digests; and the KeyTrap bounds, counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "resolver/dnssec.h"
#include "resolver/dnssec_key.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "test_dnssec_util.h"

#define NOW 1700000000u /* 2023-11-14 */
#define DAY 86400u

static const uint8_t ALGS[] = { 8, 10, 13, 14, 15, 16 };
#define N_ALGS (sizeof(ALGS) / sizeof(ALGS[0]))
static struct t_key ksk[N_ALGS], zsk[N_ALGS];

static int group_setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ALGS; i++) {
		t_key_gen(&ksk[i], ALGS[i], DNSKEY_FLAG_ZONE | DNSKEY_FLAG_SEP);
		t_key_gen(&zsk[i], ALGS[i], DNSKEY_FLAG_ZONE);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ALGS; i++) {
		t_key_free(&ksk[i]);
		t_key_free(&zsk[i]);
	}
	return 0;
}

static struct t_sig sig_now(void)
{
	struct t_sig p = { .signer = "example.", .labels = -1,
			   .inception = NOW - DAY, .expiration = NOW + 30 * DAY };
	return p;
}

static struct dnssec_budget budget(void)
{
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	return b;
}

/* ---- known answers ---- */

static void test_dnssec_key_tag_matches_rfc_vectors(void **state)
{
	(void)state;
	static const struct { const char *rr; uint16_t tag; } v[] = {
		{ "example.net. IN DNSKEY 256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=", 9033 },
		{ "example.net. IN DNSKEY 256 3 10 AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL", 3740 },
		{ "example.net. IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==", 55648 },
		{ "example.net. IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40", 10771 },
		{ "example.com. IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=", 3613 },
		{ "example.com. IN DNSKEY 257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=", 35217 },
		{ "dskey.example.com. IN DNSKEY 256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==", 60485 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct rrset *k = t_rrset(v[i].rr);
		uint16_t len;
		const uint8_t *rd = rrset_rdata_first(k, &len);
		assert_int_equal(dnssec_key_tag(rd, len), v[i].tag);
	}
}

/* One published (key, RRset, RRSIG) triple must verify, and not with a bit flipped. */
static void check_vector(const char *key, const char *set_text, const char *sig, uint64_t now)
{
	struct rrset *keys = t_rrset(key), *set = t_rrset(set_text), *sigs = t_rrset(sig);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	const uint8_t *zone = keys->owner;
	assert_int_equal(dnssec_verify_rrset(set, sigs, keys, zone, now, &b, &r), DNSSEC_SECURE);
	assert_int_equal(r.reason, DNSSEC_R_NONE);
	assert_int_equal(b.sig_checks_done, 1);

	sigs->rdata[sigs->rdata_len - 1] ^= 0x01; /* last byte of the signature */
	assert_int_equal(dnssec_verify_rrset(set, sigs, keys, zone, now, &b, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_SIG_INVALID);
	assert_int_equal(dnssec_reason_ede(r.reason), 6);
}

static void test_dnssec_verifies_rfc5702_rsasha256(void **state)
{
	(void)state;
	check_vector("example.net. 3600 IN DNSKEY 256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=",
		     "www.example.net. 3600 IN A 192.0.2.91",
		     "www.example.net. 3600 IN RRSIG A 8 3 3600 20300101000000 20000101000000 9033 example.net. kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==",
		     NOW);
}

static void test_dnssec_verifies_rfc5702_rsasha512(void **state)
{
	(void)state;
	check_vector("example.net. 3600 IN DNSKEY 256 3 10 AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL",
		     "www.example.net. 3600 IN A 192.0.2.91",
		     "www.example.net. 3600 IN RRSIG A 10 3 3600 20300101000000 20000101000000 3740 example.net. tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=",
		     NOW);
}

static void test_dnssec_verifies_rfc6605_ecdsa_p256(void **state)
{
	(void)state;
	check_vector("example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
		     "www.example.net. 3600 IN A 192.0.2.1",
		     "www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==",
		     t_time("20100820000000"));
}

static void test_dnssec_verifies_rfc6605_ecdsa_p384(void **state)
{
	(void)state;
	check_vector("example.net. 3600 IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
		     "www.example.net. 3600 IN A 192.0.2.1",
		     "www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm",
		     t_time("20100820000000"));
}

/* RFC 8080 6.1 as corrected by errata 4935 (labels 2). */
static void test_dnssec_verifies_rfc8080_ed25519(void **state)
{
	(void)state;
	uint64_t now = t_time("20150801000000");
	check_vector("example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
		     "example.com. 3600 IN MX 10 mail.example.com.",
		     "example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
		     now);
	check_vector("example.com. 3600 IN DNSKEY 257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
		     "example.com. 3600 IN MX 10 mail.example.com.",
		     "example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 35217 example.com. zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
		     now);
}

static bool ds_match_text(const char *key, const char *ds)
{
	struct rrset *k = t_rrset(key), *d = t_rrset(ds);
	uint16_t klen, dlen;
	const uint8_t *krd = rrset_rdata_first(k, &klen), *drd = rrset_rdata_first(d, &dlen);
	return dnssec_ds_matches(k->owner, krd, klen, drd, dlen);
}

static void test_dnssec_ds_matches_rfc_digests_sha1_sha256_sha384(void **state)
{
	(void)state;
	/* RFC 4034 5.4: SHA-1, and the owner's case does not matter */
	assert_true(ds_match_text("DSKEY.Example.COM. IN DNSKEY 256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
				  "dskey.example.com. IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"));
	/* RFC 6605 6.1, 6.2: SHA-256 and SHA-384 */
	assert_true(ds_match_text("example.net. IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
				  "example.net. IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17"));
	assert_true(ds_match_text("example.net. IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
				  "example.net. IN DS 10771 14 4 72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6"));
	/* RFC 8080 6.1 */
	assert_true(ds_match_text("example.com. IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
				  "example.com. IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b"));
	/* a digest off by one bit, another owner, an unknown digest type */
	assert_false(ds_match_text("example.com. IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
				   "example.com. IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304a"));
	assert_false(ds_match_text("example.org. IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
				   "example.org. IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b"));
	assert_false(ds_match_text("example.com. IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
				   "example.com. IN DS 3613 15 3 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b"));
}

/* ---- every algorithm, with keys made here ---- */

static void test_dnssec_each_algorithm_verifies_and_rejects_a_flipped_bit(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1\nwww.example. 3600 IN A 192.0.2.2");
	for (size_t i = 0; i < N_ALGS; i++) {
		struct t_key *keys[] = { &ksk[i], &zsk[i] };
		struct rrset *dnskeys = t_dnskeys("example.", keys, 2);
		struct t_sig p = sig_now();
		struct rrset *sig = t_sign(set, &zsk[i], &p);
		struct dnssec_budget b = budget();
		struct dnssec_result r;
		assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
				 DNSSEC_SECURE);
		assert_int_equal(r.key_tag, zsk[i].tag);
		assert_false(r.wildcard);

		/* a bit of the signature */
		sig->rdata[sig->rdata_len - 3] ^= 0x10;
		assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
				 DNSSEC_BOGUS);
		assert_int_equal(r.reason, DNSSEC_R_SIG_INVALID);
		sig->rdata[sig->rdata_len - 3] ^= 0x10;
		/* a bit of the data */
		set->rdata[set->rdata_len - 1] ^= 0x01;
		assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
				 DNSSEC_BOGUS);
		set->rdata[set->rdata_len - 1] ^= 0x01;
		/* the original TTL is signed */
		sig->rdata[2 + 7] ^= 0x01;
		assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
				 DNSSEC_BOGUS);
		assert_int_equal(b.sig_checks_done, 4);
	}
}

/* ---- the RRSIG's fields ---- */

static enum dnssec_verdict verify_p(struct rrset *set, const struct t_sig *p, uint64_t now,
				    struct dnssec_result *r)
{
	struct t_key *keys[] = { &zsk[2] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct rrset *sig = t_sign(set, &zsk[2], p);
	struct dnssec_budget b = budget();
	return dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), now, &b, r);
}

static void test_dnssec_expired_signature_is_bogus_with_ede_7(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.inception = NOW - 30 * DAY;
	p.expiration = NOW - 1000;
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_SIG_EXPIRED);
	assert_int_equal(dnssec_reason_ede(r.reason), 7);
	/* within the skew it still counts */
	p.expiration = NOW - DNSSEC_CLOCK_SKEW_S + 10;
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_SECURE);
	assert_int_equal(r.ttl_cap_s, 0);
}

static void test_dnssec_not_yet_valid_signature_is_bogus_with_ede_8(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.inception = NOW + 1000;
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_SIG_NOT_YET_VALID);
	assert_int_equal(dnssec_reason_ede(r.reason), 8);
	p.inception = NOW + DNSSEC_CLOCK_SKEW_S - 10;
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_SECURE);
}

static void test_dnssec_signature_times_use_serial_arithmetic(void **state)
{
	(void)state;
	/* RFC 4034 3.1.5: after 2106 the 32-bit times wrap; a signature made
	 * just before the wrap and expiring just after it is valid between */
	uint64_t now = (1ull << 32) + 100;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.inception = (1ull << 32) - DAY;
	p.expiration = (1ull << 32) + DAY;
	assert_int_equal(verify_p(set, &p, now, &r), DNSSEC_SECURE);
	assert_int_equal(r.ttl_cap_s, 3600);
	assert_int_equal(verify_p(set, &p, now + 2 * DAY, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_SIG_EXPIRED);
}

static void test_dnssec_wrong_signer_is_bogus(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.signer = "other.";
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_WRONG_SIGNER);
	/* a zone that is not above the owner */
	struct rrset *outside = t_rrset("www.example.org. 3600 IN A 192.0.2.1");
	p = sig_now();
	assert_int_equal(verify_p(outside, &p, NOW, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_WRONG_SIGNER);
}

static void test_dnssec_labels_above_owner_labels_is_bogus(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.labels = 3;
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_BAD_LABELS);
}

static void test_dnssec_type_covered_must_match(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.covered = TYPE_AAAA;
	assert_int_equal(verify_p(set, &p, NOW, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_RRSIGS_MISSING);
	assert_int_equal(dnssec_reason_ede(r.reason), 10);
}

static void test_dnssec_wildcard_expansion_verifies_and_reports_labels(void **state)
{
	(void)state;
	/* signed as *.example. (labels 1), answered as a.b.example. */
	struct rrset *wild = t_rrset("*.example. 3600 IN TXT \"hello\"");
	struct t_sig p = sig_now();
	p.labels = 1; /* RFC 4034 3.1.3: the "*" label is not counted */
	struct rrset *sig = t_sign(wild, &zsk[2], &p);
	struct t_key *keys[] = { &zsk[2] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct dnssec_budget b = budget();
	struct dnssec_result r;

	struct rrset *expanded = t_rrset("a.b.example. 3600 IN TXT \"hello\"");
	sig->owner = expanded->owner;
	assert_int_equal(dnssec_verify_rrset(expanded, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_true(r.wildcard);
	assert_int_equal(r.wildcard_labels, 1);

	/* the wildcard RRset itself is no expansion */
	assert_int_equal(dnssec_verify_rrset(wild, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_false(r.wildcard);

	/* the same data claimed with full labels does not verify */
	p.labels = 3;
	struct rrset *plain = t_sign(wild, &zsk[2], &p);
	assert_int_equal(dnssec_verify_rrset(expanded, plain, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
}

static void test_dnssec_ttl_is_capped_by_original_ttl_rrsig_ttl_and_expiration(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 86400 IN A 192.0.2.1");
	struct dnssec_result r;
	struct t_sig p = sig_now();
	p.orig_ttl = 300;
	struct t_key *keys[] = { &zsk[2] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct rrset *sig = t_sign(set, &zsk[2], &p);
	struct dnssec_budget b = budget();
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_int_equal(r.ttl_cap_s, 300);

	sig->ttl_s = 120; /* the RRSIG's own TTL */
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_int_equal(r.ttl_cap_s, 120);

	p.orig_ttl = 0;
	p.expiration = NOW + 60; /* expires in a minute */
	sig = t_sign(set, &zsk[2], &p);
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_int_equal(r.ttl_cap_s, 60);
}

static void test_dnssec_canonical_form_sorts_lowercases_and_drops_duplicates(void **state)
{
	(void)state;
	/* signed in canonical form: lowercase owner and MX names, sorted */
	struct rrset *canon = t_rrset("mail.example. 3600 IN MX 10 a.example.\n"
				      "mail.example. 3600 IN MX 10 b.example.\n"
				      "mail.example. 3600 IN MX 20 a.example.");
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(canon, &zsk[4], &p);
	struct t_key *keys[] = { &zsk[4] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	/* received shuffled, in mixed case, with a duplicate */
	struct rrset *got = t_rrset("MAIL.Example. 3600 IN MX 20 A.EXAMPLE.\n"
				    "MAIL.Example. 3600 IN MX 10 B.example.\n"
				    "MAIL.Example. 3600 IN MX 10 a.example.\n"
				    "MAIL.Example. 3600 IN MX 20 a.example.");
	assert_int_equal(dnssec_verify_rrset(got, sig, dnskeys, t_name("EXAMPLE."), NOW, &b, &r),
			 DNSSEC_SECURE);

	/* RFC 6840 5.1: the next name in NSEC keeps its case */
	struct rrset *nsec = t_rrset("a.example. 3600 IN NSEC Next.Example. A RRSIG NSEC");
	sig = t_sign(nsec, &zsk[4], &p);
	assert_int_equal(dnssec_verify_rrset(nsec, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	/* and names in SRV RDATA are lowercased */
	struct rrset *srv = t_rrset("_x._tcp.example. 3600 IN SRV 0 0 80 host.example.");
	sig = t_sign(srv, &zsk[4], &p);
	struct rrset *srv_upper = t_rrset("_x._tcp.example. 3600 IN SRV 0 0 80 HOST.example.");
	assert_int_equal(dnssec_verify_rrset(srv_upper, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
}

/* ---- keys and algorithms ---- */

static void test_dnssec_unknown_algorithm_zone_is_insecure(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key odd;
	t_key_gen(&odd, 253, DNSKEY_FLAG_ZONE); /* PRIVATEDNS: nobody supports it */
	struct t_key *keys[] = { &odd };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &odd, &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_INSECURE);
	assert_int_equal(r.reason, DNSSEC_R_UNSUPPORTED_ALG);
	assert_int_equal(dnssec_reason_ede(r.reason), 1);
	assert_int_equal(b.sig_checks_done, 0);

	/* and from the parent's side: a DS for that key only */
	struct rrset *ds = t_rrset("example. 3600 IN DS 1234 253 2 "
				   "0000000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, ds, NULL, NOW, &b, &r),
			 DNSSEC_INSECURE);
	assert_int_equal(r.reason, DNSSEC_R_UNSUPPORTED_ALG);
}

static void test_dnssec_rsasha1_is_treated_as_unsupported(void **state)
{
	(void)state;
	/* RFC 9905: operators MUST treat RSASHA1 and RSASHA1-NSEC3-SHA1 as unsupported */
	assert_false(dnssec_algorithm_supported(DNSSEC_ALG_RSASHA1));
	assert_false(dnssec_algorithm_supported(DNSSEC_ALG_RSASHA1_NSEC3));
	struct rrset *keys = t_rrset("dskey.example.com. IN DNSKEY 256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==");
	struct rrset *ds = t_rrset("dskey.example.com. IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118");
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(keys, NULL, ds, NULL, NOW, &b, &r), DNSSEC_INSECURE);
	assert_int_equal(r.reason, DNSSEC_R_UNSUPPORTED_ALG);
	for (size_t i = 0; i < N_ALGS; i++)
		assert_true(dnssec_algorithm_supported(ALGS[i]));
}

static void test_dnssec_unsupported_rrsig_in_a_supported_zone_is_bogus(void **state)
{
	(void)state;
	/* RFC 6840 5.11: stripping the good RRSIG and adding one of an unknown
	 * algorithm must not downgrade a secure zone */
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key odd;
	t_key_gen(&odd, 253, DNSKEY_FLAG_ZONE);
	struct t_key *keys[] = { &zsk[2], &odd };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 2);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &odd, &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_RRSIGS_MISSING);
}

static void test_dnssec_missing_rrsig_is_bogus_with_ede_10(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key *keys[] = { &zsk[0] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, NULL, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(r.reason), 10);
}

static void test_dnssec_key_without_zone_bit_is_bogus_with_ede_11(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key k;
	t_key_gen(&k, DNSSEC_ALG_ED25519, 0);
	struct t_key *keys[] = { &k, &zsk[4] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 2);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &k, &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(r.reason), 11);
	assert_int_equal(b.sig_checks_done, 0);
	t_key_free(&k);
}

static void test_dnssec_signature_by_an_absent_key_is_bogus_with_ede_9(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key *keys[] = { &ksk[4] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &zsk[4], &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(r.reason), 9);
}

/* ---- DNSKEY RRsets from DS and anchors ---- */

/* A DS RRset for @k under @zone with @digest_type, made with dnssec_ds_matches'
 * own definition checked against the RFC vectors above. */
static struct rrset *ds_for(const char *zone, const struct t_key *k, uint8_t digest_type)
{
	static const char *md[] = { [1] = "SHA1", [2] = "SHA256", [4] = "SHA384" };
	uint8_t owner[NAME_MAX_WIRE], digest[EVP_MAX_MD_SIZE];
	int owner_len = name_from_text(zone, owner);
	unsigned dlen = 0;
	EVP_MD *m = EVP_MD_fetch(NULL, md[digest_type], NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestInit_ex(ctx, m, NULL), 1);
	EVP_DigestUpdate(ctx, owner, (size_t)owner_len);
	EVP_DigestUpdate(ctx, k->rdata, k->rdlen);
	EVP_DigestFinal_ex(ctx, digest, &dlen);
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(m);
	char text[512];
	int n = snprintf(text, sizeof(text), "%s 3600 IN DS %u %u %u ", zone, k->tag, k->alg,
			 digest_type);
	for (unsigned i = 0; i < dlen; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", digest[i]);
	return t_rrset(text);
}

/* DNSKEY RRset {zsk, ksk} of example. (in canonical order: flags 256 sort
 * before 257), self-signed by the KSK. */
static struct rrset *signed_keys(size_t i, struct rrset **sig)
{
	struct t_key *keys[] = { &zsk[i], &ksk[i] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 2);
	struct t_sig p = sig_now();
	*sig = t_sign(dnskeys, &ksk[i], &p);
	return dnskeys;
}

static void test_dnssec_dnskeys_are_secure_from_a_ds_of_each_digest(void **state)
{
	(void)state;
	static const uint8_t digests[] = { 1, 2, 4 };
	for (size_t d = 0; d < 3; d++) {
		struct rrset *sig, *dnskeys = signed_keys(3, &sig);
		struct rrset *ds = ds_for("example.", &ksk[3], digests[d]);
		struct dnssec_budget b = budget();
		struct dnssec_result r;
		assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, ds, NULL, NOW, &b, &r),
				 DNSSEC_SECURE);
		assert_int_equal(r.key_tag, ksk[3].tag);
		assert_int_equal(b.digests_done, 1);
		assert_int_equal(b.sig_checks_done, 1);
	}
}

static void test_dnssec_dnskeys_are_secure_from_an_anchor_key(void **state)
{
	(void)state;
	struct rrset *sig, *dnskeys = signed_keys(5, &sig);
	struct t_key *anchor[] = { &ksk[5] };
	struct rrset *anchors = t_dnskeys("example.", anchor, 1);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, NULL, anchors, NOW, &b, &r),
			 DNSSEC_SECURE);
	/* an anchor for another key of the zone does not vouch for this set */
	struct t_key *other[] = { &zsk[5] };
	anchors = t_dnskeys("example.", other, 1);
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, NULL, anchors, NOW, &b, &r),
			 DNSSEC_BOGUS);
}

static void test_dnssec_ds_naming_a_key_without_zone_bit_is_bogus_with_ede_11(void **state)
{
	(void)state;
	struct t_key k;
	t_key_gen(&k, DNSSEC_ALG_ED25519, DNSKEY_FLAG_SEP);
	struct t_key *keys[] = { &k };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(dnskeys, &k, &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, ds_for("example.", &k, 2), NULL, NOW,
						 &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(r.reason), 11);
	t_key_free(&k);
}

static void test_dnssec_revoked_anchor_key_is_not_trusted(void **state)
{
	(void)state;
	struct t_key k;
	t_key_gen(&k, DNSSEC_ALG_ED25519, DNSKEY_FLAG_ZONE | DNSKEY_FLAG_SEP | DNSKEY_FLAG_REVOKE);
	struct t_key *keys[] = { &k };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(dnskeys, &k, &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, NULL, dnskeys, NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(b.sig_checks_done, 0);
	t_key_free(&k);
}

static void test_dnssec_ds_with_unknown_digest_only_is_insecure_with_ede_2(void **state)
{
	(void)state;
	struct rrset *sig, *dnskeys = signed_keys(2, &sig);
	char text[256];
	snprintf(text, sizeof(text), "example. 3600 IN DS %u 13 5 00112233445566778899", ksk[2].tag);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, t_rrset(text), NULL, NOW, &b, &r),
			 DNSSEC_INSECURE);
	assert_int_equal(r.reason, DNSSEC_R_UNSUPPORTED_DIGEST);
	assert_int_equal(dnssec_reason_ede(r.reason), 2);
	assert_int_equal(b.digests_done + b.sig_checks_done, 0);
}

static void test_dnssec_sha1_ds_is_ignored_next_to_a_sha256_one(void **state)
{
	(void)state;
	/* RFC 4509 3: a correct SHA-1 DS cannot rescue a wrong SHA-256 one */
	struct rrset *sig, *dnskeys = signed_keys(2, &sig);
	struct rrset *sha1 = ds_for("example.", &ksk[2], 1);
	struct rrset *sha256 = ds_for("example.", &ksk[2], 2);
	sha256->rdata[sha256->rdata_len - 1] ^= 0xff;
	struct rrset *both = t_merge(sha1, sha256);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, both, NULL, NOW, &b, &r), DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_DNSKEY_MISSING);
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, sha1, NULL, NOW, &b, &r), DNSSEC_SECURE);
}

static void test_dnssec_ds_matching_no_key_is_bogus_with_ede_9(void **state)
{
	(void)state;
	struct rrset *sig, *dnskeys = signed_keys(4, &sig);
	struct rrset *ds = ds_for("example.", &ksk[2], 2); /* a key the zone does not have */
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, ds, NULL, NOW, &b, &r), DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(r.reason), 9);
}

static void test_dnssec_dnskeys_signed_only_by_a_key_not_in_the_ds_are_bogus(void **state)
{
	(void)state;
	struct t_key *keys[] = { &ksk[4], &zsk[4] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 2);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(dnskeys, &zsk[4], &p); /* the ZSK signs, the DS names the KSK */
	struct rrset *ds = ds_for("example.", &ksk[4], 2);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, ds, NULL, NOW, &b, &r), DNSSEC_BOGUS);
	assert_int_equal(b.sig_checks_done, 0);
}

static void test_dnssec_dnskeys_without_ds_or_anchor_are_indeterminate(void **state)
{
	(void)state;
	struct rrset *sig, *dnskeys = signed_keys(4, &sig);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_validate_dnskeys(dnskeys, sig, NULL, NULL, NOW, &b, &r),
			 DNSSEC_INDETERMINATE);
	assert_int_equal(r.reason, DNSSEC_R_NO_TRUST);
}

/* ---- KeyTrap (CVE-2023-50387) ---- */

static void test_dnssec_keytrap_colliding_keys_are_bounded(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key *real = &zsk[4];
	static struct t_key fakes[63];
	struct t_key *keys[64];
	for (int i = 0; i < 63; i++) {
		t_key_fake(&fakes[i], DNSSEC_ALG_ED25519, DNSKEY_FLAG_ZONE, real->tag);
		keys[i] = &fakes[i];
	}
	keys[63] = real;
	struct rrset *dnskeys = t_dnskeys("example.", keys, 64);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, real, &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_WORK_LIMIT);
	assert_int_equal(b.sig_checks_done, DNSSEC_KEYTAG_TRIES_MAX);

	/* 16 RRSIGs, all with that tag: still at most DNSSEC_SIG_CHECKS_PER_RRSET */
	struct rrset *many = sig;
	for (int i = 0; i < 15; i++)
		many = t_merge(many, t_sign(set, &fakes[i], &p));
	b = budget();
	assert_int_equal(dnssec_verify_rrset(set, many, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_WORK_LIMIT);
	assert_true(b.sig_checks_done <= DNSSEC_SIG_CHECKS_PER_RRSET);

	/* the answer's budget ends it across RRsets */
	b = budget();
	unsigned rounds = 0;
	while (b.sig_checks_left > 0 && rounds < 100) {
		dnssec_verify_rrset(set, many, dnskeys, t_name("example."), NOW, &b, &r);
		rounds++;
	}
	assert_int_equal(b.sig_checks_done, DNSSEC_SIG_CHECKS_MAX);
	uint32_t done = b.sig_checks_done;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_WORK_LIMIT);
	assert_int_equal(b.sig_checks_done, done);

	/* honest keys first: one check */
	keys[0] = real;
	keys[63] = &fakes[0];
	dnskeys = t_dnskeys("example.", keys, 64);
	b = budget();
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_int_equal(b.sig_checks_done, 1);
}

static void test_dnssec_keytrap_colliding_ds_digests_are_bounded(void **state)
{
	(void)state;
	/* 64 keys on one tag and a DS set naming that tag 8 times */
	struct t_key *real = &ksk[4];
	static struct t_key fakes[63];
	struct t_key *keys[64];
	for (int i = 0; i < 63; i++) {
		t_key_fake(&fakes[i], DNSSEC_ALG_ED25519, DNSKEY_FLAG_ZONE | DNSKEY_FLAG_SEP, real->tag);
		keys[i] = &fakes[i];
	}
	keys[63] = real;
	struct rrset *dnskeys = t_dnskeys("example.", keys, 64);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(dnskeys, real, &p);
	struct rrset *ds = ds_for("example.", &fakes[0], 2);
	for (int i = 1; i < 8; i++)
		ds = t_merge(ds, ds_for("example.", &fakes[i], 2));
	ds->rdata[ds->rdata_len - 1] ^= 1; /* the only DS for a real key ... is not */
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_not_equal(dnssec_validate_dnskeys(dnskeys, sig, ds, NULL, NOW, &b, &r),
			     DNSSEC_SECURE);
	assert_true(b.digests_done <= DNSSEC_DIGESTS_MAX);
	assert_true(b.sig_checks_done <= DNSSEC_SIG_CHECKS_PER_RRSET);
}

static void test_dnssec_spent_budget_fails_before_any_crypto(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key *keys[] = { &zsk[2] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &zsk[2], &p);
	struct dnssec_budget b = budget();
	b.sig_checks_left = 0;
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(r.reason, DNSSEC_R_WORK_LIMIT);
	assert_int_equal(dnssec_reason_ede(r.reason), 6);
	assert_int_equal(b.sig_checks_done, 0);
}

static void test_dnssec_malformed_rrsig_is_bogus_not_a_crash(void **state)
{
	(void)state;
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key *keys[] = { &zsk[2] };
	struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &zsk[2], &p);
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	for (uint16_t cut = 0; cut < 40; cut++) { /* every truncation of the RDATA */
		struct rrset s = *sig;
		uint8_t buf[2048];
		uint16_t len = (uint16_t)((sig->rdata[0] << 8 | sig->rdata[1]));
		if (cut >= len)
			break;
		memcpy(buf, sig->rdata, sig->rdata_len);
		buf[0] = (uint8_t)(cut >> 8);
		buf[1] = (uint8_t)cut;
		s.rdata = buf;
		s.rdata_len = 2u + cut;
		assert_int_equal(dnssec_verify_rrset(set, &s, dnskeys, t_name("example."), NOW, &b, &r),
				 DNSSEC_BOGUS);
	}
}

static void test_dnssec_reasons_map_to_rfc8914_codes(void **state)
{
	(void)state;
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_SIG_INVALID), 6);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_SIG_EXPIRED), 7);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_SIG_NOT_YET_VALID), 8);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_DNSKEY_MISSING), 9);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_RRSIGS_MISSING), 10);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_NO_ZONE_KEY_BIT), 11);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_NSEC_MISSING), 12);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_UNSUPPORTED_ALG), 1);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_UNSUPPORTED_DIGEST), 2);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_NSEC3_ITERATIONS), 27);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_WORK_LIMIT), 6);
	assert_int_equal(dnssec_reason_ede(DNSSEC_R_NONE), EDE_NONE);
	for (int r = DNSSEC_R_NONE; r <= DNSSEC_R_INTERNAL; r++)
		assert_string_not_equal(dnssec_reason_text((enum dnssec_reason)r), "?");
}

/* ---- the per-thread key cache (dnssec_key.c) ---- */

static void test_dnssec_key_objects_are_built_once_and_reused(void **state)
{
	(void)state;
	dnssec_key_cache_flush();
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	for (size_t i = 0; i < N_ALGS; i++) {
		struct t_key *keys[] = { &zsk[i] };
		struct rrset *dnskeys = t_dnskeys("example.", keys, 1);
		struct t_sig p = sig_now();
		struct rrset *sig = t_sign(set, &zsk[i], &p);
		struct dnssec_key_stats before, after;
		dnssec_key_stats(&before);
		for (int round = 0; round < 3; round++) {
			struct dnssec_budget b = budget();
			struct dnssec_result r;
			assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW,
							     &b, &r),
					 DNSSEC_SECURE);
		}
		/* a bad signature with a cached key still fails, and the key stays */
		sig->rdata[sig->rdata_len - 3] ^= 0x10;
		struct dnssec_budget b = budget();
		struct dnssec_result r;
		assert_int_equal(dnssec_verify_rrset(set, sig, dnskeys, t_name("example."), NOW, &b, &r),
				 DNSSEC_BOGUS);
		dnssec_key_stats(&after);
		assert_int_equal(after.builds - before.builds, 1);
		assert_int_equal(after.hits - before.hits, 3);
		/* rounds 2 and 3 are the same check: remembered, no public-key operation */
		assert_int_equal(after.sig_hits - before.sig_hits, 2);
		assert_int_equal(after.sig_checks - before.sig_checks, 2);
	}
	dnssec_key_cache_flush();
	struct dnssec_key_stats none;
	dnssec_key_stats(&none);
	assert_int_equal(none.builds + none.hits, 0);
}

static void test_dnssec_key_cache_tells_keys_with_one_tag_apart(void **state)
{
	(void)state;
	/* KeyTrap shape: keys sharing the signer's tag must not pass for it */
	dnssec_key_cache_flush();
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct t_key fake;
	t_key_fake(&fake, zsk[2].alg, DNSKEY_FLAG_ZONE, zsk[2].tag);
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &zsk[2], &p);
	struct t_key *only_fake[] = { &fake }, *only_real[] = { &zsk[2] };
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	assert_int_equal(dnssec_verify_rrset(set, sig, t_dnskeys("example.", only_real, 1),
					     t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	assert_int_equal(dnssec_verify_rrset(set, sig, t_dnskeys("example.", only_fake, 1),
					     t_name("example."), NOW, &b, &r),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_verify_rrset(set, sig, t_dnskeys("example.", only_real, 1),
					     t_name("example."), NOW, &b, &r),
			 DNSSEC_SECURE);
	t_key_free(&fake);
	dnssec_key_cache_flush();
}

static struct dnssec_key_stats stats_now(void)
{
	struct dnssec_key_stats st;
	dnssec_key_stats(&st);
	return st;
}

static enum dnssec_verdict verify_one(struct rrset *set, struct rrset *sig, struct t_key *k)
{
	struct t_key *keys[] = { k };
	struct dnssec_budget b = budget();
	struct dnssec_result r;
	return dnssec_verify_rrset(set, sig, t_dnskeys("example.", keys, 1), t_name("example."), NOW,
				   &b, &r);
}

static void test_dnssec_verified_signatures_are_remembered_only_for_the_same_check(void **state)
{
	(void)state;
	dnssec_key_cache_flush();
	struct rrset *set = t_rrset("www.example. 3600 IN A 192.0.2.1");
	struct rrset *other = t_rrset("www.example. 3600 IN A 192.0.2.2");
	struct t_sig p = sig_now();
	struct rrset *sig = t_sign(set, &zsk[2], &p);
	assert_int_equal(verify_one(set, sig, &zsk[2]), DNSSEC_SECURE);
	struct dnssec_key_stats st = stats_now();
	assert_int_equal(st.sig_checks, 1);
	assert_int_equal(st.sig_hits, 0);
	assert_int_equal(verify_one(set, sig, &zsk[2]), DNSSEC_SECURE);
	assert_int_equal(stats_now().sig_hits, 1);

	/* other data under the same signature: checked, and bogus */
	assert_int_equal(verify_one(other, sig, &zsk[2]), DNSSEC_BOGUS);
	/* another key with the signer's tag and algorithm (KeyTrap shape): it
	 * does not even parse as a point, no public-key operation */
	struct t_key fake;
	t_key_fake(&fake, zsk[2].alg, DNSKEY_FLAG_ZONE, zsk[2].tag);
	assert_int_equal(verify_one(set, sig, &fake), DNSSEC_BOGUS);
	t_key_free(&fake);
	/* one bit of the signature changed */
	struct rrset *bad = t_sign(set, &zsk[2], &p);
	bad->rdata[bad->rdata_len - 3] ^= 0x01;
	assert_int_equal(verify_one(set, bad, &zsk[2]), DNSSEC_BOGUS);
	assert_int_equal(verify_one(set, bad, &zsk[2]), DNSSEC_BOGUS); /* failures are not kept */
	/* the same data signed again (ECDSA: another signature): checked anew */
	struct rrset *again = t_sign(set, &zsk[2], &p);
	assert_int_equal(verify_one(set, again, &zsk[2]), DNSSEC_SECURE);
	st = stats_now();
	assert_int_equal(st.sig_hits, 1);
	assert_int_equal(st.sig_checks, 5); /* the first, other, bad twice, again */
	/* the remembered one still answers, and a flush forgets it */
	assert_int_equal(verify_one(set, sig, &zsk[2]), DNSSEC_SECURE);
	assert_int_equal(stats_now().sig_hits, 2);
	dnssec_key_cache_flush();
	assert_int_equal(verify_one(set, sig, &zsk[2]), DNSSEC_SECURE);
	st = stats_now();
	assert_int_equal(st.sig_hits, 0);
	assert_int_equal(st.sig_checks, 1);
	dnssec_key_cache_flush();
}

/* Ed25519 over @data with @k, raw (64 bytes). */
static void ed25519_sign(const struct t_key *k, const uint8_t *data, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sig_len = 64;
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, data, len), 1);
	assert_int_equal(sig_len, 64);
	EVP_MD_CTX_free(ctx);
}

static void test_dnssec_signature_memory_needs_the_same_key_sig_and_data(void **state)
{
	(void)state;
	/* dnssec_sig_check() itself: a remembered check answers for nothing else */
	dnssec_key_cache_flush();
	struct t_key *a = &zsk[4], *b = &ksk[4]; /* two Ed25519 keys */
	const uint8_t *ka = a->rdata + 4, *kb = b->rdata + 4;
	size_t la = a->rdlen - 4u, lb = b->rdlen - 4u;
	uint8_t data[100], other[100], sig[64], sig_b[64], bad[64];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = other[i] = (uint8_t)i;
	other[99] ^= 1;
	ed25519_sign(a, data, sizeof(data), sig);
	ed25519_sign(b, data, sizeof(data), sig_b);
	memcpy(bad, sig, sizeof(bad));
	bad[10] ^= 0x40;

	assert_true(dnssec_sig_check(15, ka, la, sig, 64, data, sizeof(data)));
	assert_true(dnssec_sig_check(15, ka, la, sig, 64, data, sizeof(data)));
	assert_int_equal(stats_now().sig_hits, 1);
	assert_false(dnssec_sig_check(15, kb, lb, sig, 64, data, sizeof(data)));       /* key */
	assert_false(dnssec_sig_check(15, ka, la, sig, 64, other, sizeof(other)));     /* data */
	assert_false(dnssec_sig_check(15, ka, la, sig, 64, data, sizeof(data) - 1));  /* length */
	assert_false(dnssec_sig_check(15, ka, la, bad, 64, data, sizeof(data)));       /* sig */
	assert_false(dnssec_sig_check(15, ka, la, sig_b, 64, data, sizeof(data)));     /* b's sig */
	assert_false(dnssec_sig_check(16, ka, la, sig, 64, data, sizeof(data)));       /* alg */
	assert_true(dnssec_sig_check(15, kb, lb, sig_b, 64, data, sizeof(data)));
	struct dnssec_key_stats st = stats_now();
	assert_int_equal(st.sig_hits, 1);
	assert_int_equal(st.sig_checks, 7); /* Ed448 with a 32-byte key does not parse */
	dnssec_key_cache_flush();
}

static void test_dnssec_verified_signature_memory_is_bounded(void **state)
{
	(void)state;
	/* more distinct good signatures than the table holds: a second pass
	 * finds at most DNSSEC_SIG_CACHE_SLOTS of them, and every one still
	 * verifies */
	enum { N = DNSSEC_SIG_CACHE_SLOTS + DNSSEC_SIG_CACHE_SLOTS / 2 };
	dnssec_key_cache_flush();
	static struct rrset *sets[N], *sigs[N];
	for (int i = 0; i < N; i++) {
		char text[80];
		snprintf(text, sizeof(text), "www.example. 3600 IN A 192.0.%d.%d", i / 256, i % 256);
		sets[i] = t_rrset(text);
		struct t_sig p = sig_now();
		sigs[i] = t_sign(sets[i], &zsk[4], &p); /* Ed25519: cheap to sign */
		assert_int_equal(verify_one(sets[i], sigs[i], &zsk[4]), DNSSEC_SECURE);
	}
	assert_int_equal(stats_now().sig_checks, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(verify_one(sets[i], sigs[i], &zsk[4]), DNSSEC_SECURE);
	struct dnssec_key_stats st = stats_now();
	assert_true(st.sig_hits <= DNSSEC_SIG_CACHE_SLOTS);
	assert_int_equal(st.sig_hits + st.sig_checks, 2 * N);
	dnssec_key_cache_flush();
}

static void test_dnssec_ds_unusable_reason_matches_the_dnskey_verdict(void **state)
{
	(void)state;
	/* algorithm 5 (RFC 9905: unsupported), digest 2: EDE 1 */
	assert_int_equal(dnssec_ds_unusable_reason(t_rrset(
				 "example. 3600 IN DS 60485 5 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17")),
			 DNSSEC_R_UNSUPPORTED_ALG);
	/* a digest type we do not know: EDE 2 */
	assert_int_equal(dnssec_ds_unusable_reason(t_rrset(
				 "example. 3600 IN DS 55648 13 3 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17")),
			 DNSSEC_R_UNSUPPORTED_DIGEST);
	/* one usable DS among them: the zone is not insecure for that reason */
	assert_int_equal(dnssec_ds_unusable_reason(t_rrset(
				 "example. 3600 IN DS 60485 5 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17\n"
				 "example. 3600 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17")),
			 DNSSEC_R_NONE);
	assert_int_equal(dnssec_ds_unusable_reason(NULL), DNSSEC_R_NONE);
}

#define T(f) cmocka_unit_test_setup_teardown(f, t_setup, t_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dnssec_key_tag_matches_rfc_vectors),
		T(test_dnssec_verifies_rfc5702_rsasha256),
		T(test_dnssec_verifies_rfc5702_rsasha512),
		T(test_dnssec_verifies_rfc6605_ecdsa_p256),
		T(test_dnssec_verifies_rfc6605_ecdsa_p384),
		T(test_dnssec_verifies_rfc8080_ed25519),
		T(test_dnssec_ds_matches_rfc_digests_sha1_sha256_sha384),
		T(test_dnssec_each_algorithm_verifies_and_rejects_a_flipped_bit),
		T(test_dnssec_expired_signature_is_bogus_with_ede_7),
		T(test_dnssec_not_yet_valid_signature_is_bogus_with_ede_8),
		T(test_dnssec_signature_times_use_serial_arithmetic),
		T(test_dnssec_wrong_signer_is_bogus),
		T(test_dnssec_labels_above_owner_labels_is_bogus),
		T(test_dnssec_type_covered_must_match),
		T(test_dnssec_wildcard_expansion_verifies_and_reports_labels),
		T(test_dnssec_ttl_is_capped_by_original_ttl_rrsig_ttl_and_expiration),
		T(test_dnssec_canonical_form_sorts_lowercases_and_drops_duplicates),
		T(test_dnssec_unknown_algorithm_zone_is_insecure),
		T(test_dnssec_rsasha1_is_treated_as_unsupported),
		T(test_dnssec_unsupported_rrsig_in_a_supported_zone_is_bogus),
		T(test_dnssec_missing_rrsig_is_bogus_with_ede_10),
		T(test_dnssec_key_without_zone_bit_is_bogus_with_ede_11),
		T(test_dnssec_signature_by_an_absent_key_is_bogus_with_ede_9),
		T(test_dnssec_dnskeys_are_secure_from_a_ds_of_each_digest),
		T(test_dnssec_dnskeys_are_secure_from_an_anchor_key),
		T(test_dnssec_ds_naming_a_key_without_zone_bit_is_bogus_with_ede_11),
		T(test_dnssec_revoked_anchor_key_is_not_trusted),
		T(test_dnssec_ds_with_unknown_digest_only_is_insecure_with_ede_2),
		T(test_dnssec_sha1_ds_is_ignored_next_to_a_sha256_one),
		T(test_dnssec_ds_matching_no_key_is_bogus_with_ede_9),
		T(test_dnssec_dnskeys_signed_only_by_a_key_not_in_the_ds_are_bogus),
		T(test_dnssec_dnskeys_without_ds_or_anchor_are_indeterminate),
		T(test_dnssec_verified_signatures_are_remembered_only_for_the_same_check),
		T(test_dnssec_verified_signature_memory_is_bounded),
		T(test_dnssec_signature_memory_needs_the_same_key_sig_and_data),
		T(test_dnssec_keytrap_colliding_keys_are_bounded),
		T(test_dnssec_keytrap_colliding_ds_digests_are_bounded),
		T(test_dnssec_spent_budget_fails_before_any_crypto),
		T(test_dnssec_key_objects_are_built_once_and_reused),
		T(test_dnssec_key_cache_tells_keys_with_one_tag_apart),
		T(test_dnssec_ds_unusable_reason_matches_the_dnskey_verdict),
		T(test_dnssec_malformed_rrsig_is_bogus_not_a_crash),
		T(test_dnssec_reasons_map_to_rfc8914_codes),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
