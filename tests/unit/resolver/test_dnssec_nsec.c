/* tests for resolver/dnssec_nsec: the NSEC3 hash and every proof of RFC 5155
 * Appendix B on its Appendix A zone; the NSEC proofs on the RFC 4035 Appendix
 * A zone (NXDOMAIN, NODATA, empty non-terminal, wildcard answer and NODATA,
 * insecure delegation, proofs with a gap, records from the wrong side of a
 * cut); the RFC 9276 iteration limit and NSEC3 hash floods, counted; and the
 * covering predicates with wrap-around. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver/dnssec.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "test_dnssec_util.h"

static struct dnssec_budget budget(void)
{
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	return b;
}

/* ---- NSEC3 hash ---- */

static const char B32[] = "0123456789abcdefghijklmnopqrstuv";

static void b32hex(const uint8_t *h, char out[33])
{
	for (int i = 0; i < 32; i++) {
		int bit = i * 5, v = 0;
		for (int j = 0; j < 5; j++, bit++)
			v = v << 1 | ((h[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = B32[v];
	}
	out[32] = 0;
}

static const uint8_t SALT[] = { 0xaa, 0xbb, 0xcc, 0xdd };

static void test_nsec3_hash_matches_rfc5155_appendix_a(void **state)
{
	(void)state;
	static const char *v[][2] = {
		{ "example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom" },
		{ "a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl" },
		{ "ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi" },
		{ "ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr" },
		{ "ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r" },
		{ "w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h" },
		{ "*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en" },
		{ "x.w.example.", "b4um86eghhds6nea196smvmlo4ors995" },
		{ "y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc" },
		{ "x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s" },
		{ "xx.example.", "t644ebqk9bibcna874givr6joj62mlhv" },
		{ "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi" },
		{ "c.x.w.example.", "0va5bpr2ou0vk0lbqeeljri88laipsfh" },
		{ "*.x.w.example.", "92pqneegtaue7pjatc3l3qnk738c6v5m" },
		{ "A.EXAMPLE.", "35mthgpgcu1qg68fab165klnsnk3dpvl" }, /* hashed lowercase */
	};
	struct dnssec_budget b = budget();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t h[NSEC3_HASH_MAX], back[NSEC3_HASH_MAX];
		char text[33];
		assert_int_equal(dnssec_nsec3_hash(t_name(v[i][0]), 1, 12, SALT, 4, &b, h), 20);
		b32hex(h, text);
		assert_string_equal(text, v[i][1]);
		/* and the owner name decodes back to the same hash */
		char owner[64];
		snprintf(owner, sizeof(owner), "%s.example.", v[i][1]);
		assert_int_equal(dnssec_nsec3_owner_hash(t_name(owner), t_name("example."), back), 20);
		assert_memory_equal(back, h, 20);
	}
	assert_int_equal(b.nsec3_hashes_done, sizeof(v) / sizeof(v[0]));
	assert_int_equal(b.nsec3_sha1_done, 13 * (sizeof(v) / sizeof(v[0])));
}

static void test_nsec3_hash_refuses_unknown_algorithms_and_high_iterations(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	uint8_t h[NSEC3_HASH_MAX];
	assert_int_equal(dnssec_nsec3_hash(t_name("example."), 2, 0, SALT, 4, &b, h), TERN_EMALFORMED);
	assert_int_equal(dnssec_nsec3_hash(t_name("example."), 1, 500, SALT, 4, &b, h), TERN_ELIMIT);
	assert_int_equal(b.nsec3_sha1_done, 0);
	b.nsec3_hashes_left = 0;
	assert_int_equal(dnssec_nsec3_hash(t_name("example."), 1, 0, SALT, 4, &b, h), TERN_ELIMIT);
	assert_int_equal(b.nsec3_hashes_done, 0);
}

static void test_nsec3_owner_hash_rejects_what_is_not_base32hex_under_the_zone(void **state)
{
	(void)state;
	uint8_t h[NSEC3_HASH_MAX];
	const uint8_t *zone = t_name("example.");
	assert_int_equal(dnssec_nsec3_owner_hash(t_name("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.x.example."), zone, h),
			 TERN_EMALFORMED);
	assert_int_equal(dnssec_nsec3_owner_hash(t_name("0p9mhaveqvm6t7vbl5lop2u3t2rp3toz.example."), zone, h),
			 TERN_EMALFORMED);
	assert_int_equal(dnssec_nsec3_owner_hash(t_name("0p9mhav.example."), zone, h), TERN_EMALFORMED);
	assert_int_equal(dnssec_nsec3_owner_hash(t_name("example."), zone, h), TERN_EMALFORMED);
	assert_int_equal(dnssec_nsec3_owner_hash(t_name("0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM.Example."), zone, h),
			 20);
}

/* ---- RFC 5155 Appendix A/B ---- */

struct n3 {
	const char *owner, *next, *types;
};

/* The NSEC3 chain of the RFC 5155 Appendix A zone (salt aabbccdd, 12 iterations). */
static const struct n3 ZONE5155[] = {
	{ "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "2t7b4g4vsa5smi47k61mv5bv1a22bojr", "MX DNSKEY NS SOA NSEC3PARAM RRSIG" },
	{ "2t7b4g4vsa5smi47k61mv5bv1a22bojr", "2vptu5timamqttgl4luu9kg21e0aor3s", "A RRSIG" },
	{ "2vptu5timamqttgl4luu9kg21e0aor3s", "35mthgpgcu1qg68fab165klnsnk3dpvl", "MX RRSIG" },
	{ "35mthgpgcu1qg68fab165klnsnk3dpvl", "b4um86eghhds6nea196smvmlo4ors995", "NS DS RRSIG" },
	{ "b4um86eghhds6nea196smvmlo4ors995", "gjeqe526plbf1g8mklp59enfd789njgi", "MX RRSIG" },
	{ "gjeqe526plbf1g8mklp59enfd789njgi", "ji6neoaepv8b5o6k4ev33abha8ht9fgc", "A HINFO AAAA RRSIG" },
	{ "ji6neoaepv8b5o6k4ev33abha8ht9fgc", "k8udemvp1j2f7eg6jebps17vp3n8i58h", "" },
	{ "k8udemvp1j2f7eg6jebps17vp3n8i58h", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "" },
	{ "kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "q04jkcevqvmu85r014c7dkba38o0ji5r", "A RRSIG" },
	{ "q04jkcevqvmu85r014c7dkba38o0ji5r", "r53bq7cc2uvmubfu5ocmm6pers9tk9en", "A RRSIG" },
	{ "r53bq7cc2uvmubfu5ocmm6pers9tk9en", "t644ebqk9bibcna874givr6joj62mlhv", "MX RRSIG" },
	{ "t644ebqk9bibcna874givr6joj62mlhv", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "A HINFO AAAA RRSIG" },
};

/* The NSEC3 RRset of ZONE5155 whose owner starts with @prefix, with @flags
 * (the RFC zone has 1: opt-out everywhere) and @iterations. */
static struct rrset *n3(const char *prefix, int flags, int iterations)
{
	for (size_t i = 0; i < sizeof(ZONE5155) / sizeof(ZONE5155[0]); i++) {
		if (strncmp(ZONE5155[i].owner, prefix, strlen(prefix)) != 0)
			continue;
		char text[512];
		snprintf(text, sizeof(text), "%s.example. 3600 IN NSEC3 1 %d %d aabbccdd %s %s",
			 ZONE5155[i].owner, flags, iterations, ZONE5155[i].next, ZONE5155[i].types);
		return t_rrset(text);
	}
	fail_msg("no NSEC3 %s", prefix);
	return NULL;
}

/* B.1: a.c.x.w.example: closest encloser x.w.example, next closer covered,
 * wildcard covered. */
static void test_nsec3_rfc5155_b1_name_error(void **state)
{
	(void)state;
	for (int flags = 0; flags <= 1; flags++) {
		struct rrset *proof = t_list(n3("0p9mh", flags, 12), n3("b4um8", flags, 12),
					     n3("35mth", flags, 12), NULL);
		struct dnssec_budget b = budget();
		struct dnssec_denial d;
		dnssec_prove_nxdomain(t_name("a.c.x.w.example."), t_name("example."), proof, &b, &d);
		assert_int_equal(d.proof, DNSSEC_PROOF_NXDOMAIN);
		assert_true(d.nsec3);
		assert_true(name_equal(d.closest_encloser, t_name("x.w.example.")));
		if (flags) { /* the RFC's zone is opt-out: the name may be an unsigned delegation */
			assert_int_equal(d.verdict, DNSSEC_INSECURE);
			assert_true(d.opt_out);
		} else {
			assert_int_equal(d.verdict, DNSSEC_SECURE);
			assert_false(d.opt_out);
		}
		/* a.c.x.w, c.x.w, x.w, then *.x.w */
		assert_int_equal(b.nsec3_hashes_done, 4);
	}
}

static void test_nsec3_name_error_without_the_wildcard_proof_is_bogus_with_ede_12(void **state)
{
	(void)state;
	struct rrset *proof = t_list(n3("0p9mh", 0, 12), n3("b4um8", 0, 12), NULL);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nxdomain(t_name("a.c.x.w.example."), t_name("example."), proof, &b, &d),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(d.reason), 12);
	/* and without the next closer cover */
	proof = t_list(n3("b4um8", 0, 12), n3("35mth", 0, 12), NULL);
	assert_int_equal(dnssec_prove_nxdomain(t_name("a.c.x.w.example."), t_name("example."), proof, &b, &d),
			 DNSSEC_BOGUS);
	/* a name that exists is no NXDOMAIN */
	proof = t_list(n3("b4um8", 0, 12), n3("0p9mh", 0, 12), n3("35mth", 0, 12), NULL);
	assert_int_equal(dnssec_prove_nxdomain(t_name("x.w.example."), t_name("example."), proof, &b, &d),
			 DNSSEC_BOGUS);
}

/* B.2: ns1.example MX: the matching NSEC3 has A and RRSIG only. */
static void test_nsec3_rfc5155_b2_no_data(void **state)
{
	(void)state;
	struct rrset *proof = n3("2t7b4", 1, 12);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("ns1.example."), TYPE_MX, t_name("example."), proof, &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_NODATA);
	assert_int_equal(b.nsec3_hashes_done, 1);
	/* the type is there: no proof */
	assert_int_equal(dnssec_prove_nodata(t_name("ns1.example."), TYPE_A, t_name("example."), proof, &b, &d),
			 DNSSEC_BOGUS);
}

/* B.2.1: y.w.example A: an empty non-terminal has an NSEC3 with no types. */
static void test_nsec3_rfc5155_b21_no_data_empty_non_terminal(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("y.w.example."), TYPE_A, t_name("example."),
					     n3("ji6ne", 1, 12), &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_NODATA);
	/* no DS there either, but an empty non-terminal is no delegation */
	assert_int_equal(dnssec_prove_nodata(t_name("y.w.example."), TYPE_DS, t_name("example."),
					     n3("ji6ne", 1, 12), &b, &d),
			 DNSSEC_SECURE);
	assert_false(d.delegation);
}

/* B.3: mc.c.example MX: a referral to c.example, an unsigned delegation in an
 * opt-out span: no DS, proven INSECURE. */
static void test_nsec3_rfc5155_b3_referral_to_opt_out_unsigned_zone_is_insecure(void **state)
{
	(void)state;
	struct rrset *proof = t_list(n3("35mth", 1, 12), n3("0p9mh", 1, 12), NULL);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("c.example."), TYPE_DS, t_name("example."), proof, &b, &d),
			 DNSSEC_INSECURE);
	assert_int_equal(d.reason, DNSSEC_R_OPT_OUT);
	assert_int_equal(d.proof, DNSSEC_PROOF_OPT_OUT);
	assert_true(d.opt_out);
	assert_true(name_equal(d.closest_encloser, t_name("example.")));
	/* without opt-out the same records prove nothing */
	proof = t_list(n3("35mth", 0, 12), n3("0p9mh", 0, 12), NULL);
	assert_int_equal(dnssec_prove_nodata(t_name("c.example."), TYPE_DS, t_name("example."), proof, &b, &d),
			 DNSSEC_BOGUS);
}

/* B.4: a.z.w.example MX from *.w.example (RRSIG labels 2): the next closer
 * z.w.example is covered. */
static void test_nsec3_rfc5155_b4_wildcard_expansion(void **state)
{
	(void)state;
	for (int flags = 0; flags <= 1; flags++) {
		struct dnssec_budget b = budget();
		struct dnssec_denial d;
		dnssec_prove_wildcard(t_name("a.z.w.example."), 2, t_name("example."),
				      n3("q04jk", flags, 12), &b, &d);
		assert_int_equal(d.verdict, flags ? DNSSEC_INSECURE : DNSSEC_SECURE);
		assert_int_equal(d.proof, DNSSEC_PROOF_WILDCARD_ANSWER);
		assert_true(name_equal(d.closest_encloser, t_name("w.example.")));
		assert_int_equal(b.nsec3_hashes_done, 1);
	}
	/* a cover for another name does not do */
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_wildcard(t_name("a.z.w.example."), 2, t_name("example."),
					       n3("35mth", 0, 12), &b, &d),
			 DNSSEC_BOGUS);
}

/* B.5: a.z.w.example AAAA: closest encloser w.example, next closer covered,
 * the wildcard *.w.example has MX only. */
static void test_nsec3_rfc5155_b5_wildcard_no_data(void **state)
{
	(void)state;
	for (int flags = 0; flags <= 1; flags++) {
		struct rrset *proof = t_list(n3("k8ude", flags, 12), n3("q04jk", flags, 12),
					     n3("r53bq", flags, 12), NULL);
		struct dnssec_budget b = budget();
		struct dnssec_denial d;
		dnssec_prove_nodata(t_name("a.z.w.example."), TYPE_AAAA, t_name("example."), proof, &b, &d);
		assert_int_equal(d.verdict, flags ? DNSSEC_INSECURE : DNSSEC_SECURE);
		assert_int_equal(d.proof, DNSSEC_PROOF_WILDCARD_NODATA);
		/* MX is at the wildcard */
		dnssec_prove_nodata(t_name("a.z.w.example."), TYPE_MX, t_name("example."), proof, &b, &d);
		assert_int_equal(d.verdict, DNSSEC_BOGUS);
	}
}

/* B.6: example DS answered with the child's apex NSEC3: the SOA bit says it
 * is the child's, which cannot deny the parent's DS (RFC 6840 4.4). */
static void test_nsec3_child_apex_cannot_deny_ds(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("example."), TYPE_DS, t_name("example."),
					     n3("0p9mh", 0, 12), &b, &d),
			 DNSSEC_BOGUS);
	/* the parent side (35mth is a.example: NS DS) proves other things only */
	assert_int_equal(dnssec_prove_nodata(t_name("a.example."), TYPE_MX, t_name("example."),
					     n3("35mth", 0, 12), &b, &d),
			 DNSSEC_BOGUS);
}

static void test_nsec3_iterations_above_limit_are_insecure_with_ede_27_without_hashing(void **state)
{
	(void)state;
	struct rrset *proof = t_list(n3("0p9mh", 0, 500), n3("b4um8", 0, 500), n3("35mth", 0, 500), NULL);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nxdomain(t_name("a.c.x.w.example."), t_name("example."), proof, &b, &d),
			 DNSSEC_INSECURE);
	assert_int_equal(d.reason, DNSSEC_R_NSEC3_ITERATIONS);
	assert_int_equal(dnssec_reason_ede(d.reason), 27);
	assert_int_equal(b.nsec3_hashes_done, 0);
	assert_int_equal(b.nsec3_sha1_done, 0);
	/* at the limit, it is hashed */
	proof = t_list(n3("0p9mh", 0, DNSSEC_NSEC3_ITERATIONS_MAX), NULL);
	dnssec_prove_nxdomain(t_name("a.c.x.w.example."), t_name("example."), proof, &b, &d);
	assert_int_equal(d.verdict, DNSSEC_BOGUS); /* the hashes do not match any more */
	assert_true(b.nsec3_hashes_done > 0);
}

static void test_nsec3_hash_flood_with_distinct_salts_is_bounded(void **state)
{
	(void)state;
	/* 32 NSEC3 records, each with its own salt and 150 iterations, none of
	 * which proves anything: every salt costs a closest encloser search */
	struct rrset *list = NULL;
	for (int i = 0; i < 32; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "%s.example. 3600 IN NSEC3 1 0 150 %08x %s A RRSIG", ZONE5155[i % 12].owner,
			 0x1000 + i, ZONE5155[i % 12].next);
		struct rrset *s = t_rrset(text);
		s->next = list;
		list = s;
	}
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	const uint8_t *deep = t_name("a.b.c.d.e.f.g.h.i.j.example.");
	assert_int_equal(dnssec_prove_nxdomain(deep, t_name("example."), list, &b, &d), DNSSEC_BOGUS);
	assert_int_equal(d.reason, DNSSEC_R_WORK_LIMIT);
	assert_int_equal(b.nsec3_hashes_done, DNSSEC_NSEC3_HASHES_MAX);
	assert_true(b.nsec3_sha1_done <= DNSSEC_NSEC3_HASHES_MAX * (DNSSEC_NSEC3_ITERATIONS_MAX + 1));
}

static void test_nsec3_unknown_hash_algorithm_only_is_insecure(void **state)
{
	(void)state;
	struct rrset *s = t_rrset("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 2 0 0 - "
				  "2t7b4g4vsa5smi47k61mv5bv1a22bojr A");
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nxdomain(t_name("nope.example."), t_name("example."), s, &b, &d),
			 DNSSEC_INSECURE);
	assert_int_equal(d.reason, DNSSEC_R_UNSUPPORTED_ALG);
	/* unknown flags: ignored, so nothing is left to prove with */
	s = t_rrset("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 1 2 0 - "
		    "2t7b4g4vsa5smi47k61mv5bv1a22bojr A");
	assert_int_equal(dnssec_prove_nxdomain(t_name("nope.example."), t_name("example."), s, &b, &d),
			 DNSSEC_BOGUS);
}

static void test_nsec3_records_of_another_zone_are_ignored(void **state)
{
	(void)state;
	struct rrset *proof = n3("2t7b4", 0, 12);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("ns1.example."), TYPE_MX, t_name("other."), proof, &b, &d),
			 DNSSEC_BOGUS);
	assert_int_equal(b.nsec3_hashes_done, 0);
}

/* ---- NSEC: the RFC 4035 Appendix A zone ---- */

static struct rrset *nsec(const char *text)
{
	return t_rrset(text);
}

#define N_APEX "example. 3600 IN NSEC a.example. NS SOA MX RRSIG NSEC DNSKEY"
#define N_A "a.example. 3600 IN NSEC ai.example. NS DS RRSIG NSEC"
#define N_AI "ai.example. 3600 IN NSEC b.example. A HINFO AAAA RRSIG NSEC"
#define N_B "b.example. 3600 IN NSEC ns1.example. NS RRSIG NSEC"
#define N_NS1 "ns1.example. 3600 IN NSEC ns2.example. A RRSIG NSEC"
#define N_WILD "*.w.example. 3600 IN NSEC x.w.example. MX RRSIG NSEC"
#define N_XW "x.w.example. 3600 IN NSEC x.y.w.example. MX RRSIG NSEC"
#define N_XYW "x.y.w.example. 3600 IN NSEC xx.example. MX RRSIG NSEC"
#define N_XX "xx.example. 3600 IN NSEC example. A HINFO AAAA RRSIG NSEC"

/* RFC 4035 B.2: ml.example: covered by b.example, no wildcard *.example. */
static void test_nsec_name_error(void **state)
{
	(void)state;
	struct rrset *proof = t_list(nsec(N_B), nsec(N_APEX), NULL);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nxdomain(t_name("ml.example."), t_name("example."), proof, &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_NXDOMAIN);
	assert_false(d.nsec3);
	assert_true(name_equal(d.closest_encloser, t_name("example.")));
	assert_int_equal(b.nsec3_hashes_done + b.sig_checks_done, 0);
}

static void test_nsec_name_error_with_a_gap_is_bogus_with_ede_12(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	/* no proof that *.example does not exist */
	assert_int_equal(dnssec_prove_nxdomain(t_name("ml.example."), t_name("example."), nsec(N_B), &b, &d),
			 DNSSEC_BOGUS);
	assert_int_equal(dnssec_reason_ede(d.reason), 12);
	/* an NSEC that does not cover the name */
	assert_int_equal(dnssec_prove_nxdomain(t_name("ml.example."), t_name("example."),
					       t_list(nsec(N_AI), nsec(N_APEX), NULL), &b, &d),
			 DNSSEC_BOGUS);
	/* a name that exists */
	assert_int_equal(dnssec_prove_nxdomain(t_name("ns1.example."), t_name("example."),
					       t_list(nsec(N_NS1), nsec(N_APEX), NULL), &b, &d),
			 DNSSEC_BOGUS);
	/* nothing at all */
	assert_int_equal(dnssec_prove_nxdomain(t_name("ml.example."), t_name("example."), NULL, &b, &d),
			 DNSSEC_BOGUS);
}

static void test_nsec_below_a_delegation_proves_nothing(void **state)
{
	(void)state;
	/* RFC 6840 4.1: b.example is a cut; names under it are the child's */
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nxdomain(t_name("mc.b.example."), t_name("example."),
					       t_list(nsec(N_B), nsec(N_APEX), NULL), &b, &d),
			 DNSSEC_BOGUS);
}

/* RFC 4035 B.3: ns1.example MX */
static void test_nsec_no_data(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("ns1.example."), TYPE_MX, t_name("example."), nsec(N_NS1), &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_NODATA);
	assert_int_equal(dnssec_prove_nodata(t_name("ns1.example."), TYPE_A, t_name("example."), nsec(N_NS1), &b, &d),
			 DNSSEC_BOGUS);
	/* a CNAME at the name answers every type */
	assert_int_equal(dnssec_prove_nodata(t_name("c.example."), TYPE_A, t_name("example."),
					     nsec("c.example. 3600 IN NSEC d.example. CNAME RRSIG NSEC"), &b, &d),
			 DNSSEC_BOGUS);
}

static void test_nsec_no_data_empty_non_terminal(void **state)
{
	(void)state;
	/* y.w.example exists because x.y.w.example does */
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("y.w.example."), TYPE_A, t_name("example."), nsec(N_XW), &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_NODATA);
}

/* RFC 4035 B.5: the referral to b.example carries the NSEC at b.example: NS,
 * no DS, no SOA: a proven insecure delegation. */
static void test_nsec_insecure_delegation_needs_the_parent_side(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("b.example."), TYPE_DS, t_name("example."), nsec(N_B), &b, &d),
			 DNSSEC_SECURE);
	assert_true(d.delegation);
	/* no DS at a name inside the zone, or at an empty non-terminal, is
	 * proven too, but no zone cut: nothing below is known to be unsigned */
	assert_int_equal(dnssec_prove_nodata(t_name("ns1.example."), TYPE_DS, t_name("example."), nsec(N_NS1), &b, &d),
			 DNSSEC_SECURE);
	assert_false(d.delegation);
	assert_int_equal(dnssec_prove_nodata(t_name("y.w.example."), TYPE_DS, t_name("example."), nsec(N_XW), &b, &d),
			 DNSSEC_SECURE);
	assert_false(d.delegation);
	/* RFC 4035 B.8 / RFC 6840 4.4: the child's apex NSEC (SOA set) cannot */
	assert_int_equal(dnssec_prove_nodata(t_name("example."), TYPE_DS, t_name("example."), nsec(N_APEX), &b, &d),
			 DNSSEC_BOGUS);
	/* a DS bit is a DS */
	assert_int_equal(dnssec_prove_nodata(t_name("a.example."), TYPE_DS, t_name("example."), nsec(N_A), &b, &d),
			 DNSSEC_BOGUS);
	/* and the parent side cannot deny the child's data */
	assert_int_equal(dnssec_prove_nodata(t_name("b.example."), TYPE_A, t_name("example."), nsec(N_B), &b, &d),
			 DNSSEC_BOGUS);
}

/* RFC 4035 B.6: a.z.w.example MX from *.w.example: z.w.example is covered. */
static void test_nsec_wildcard_expansion(void **state)
{
	(void)state;
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_wildcard(t_name("a.z.w.example."), 2, t_name("example."), nsec(N_XYW), &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_WILDCARD_ANSWER);
	assert_true(name_equal(d.closest_encloser, t_name("w.example.")));
	/* no cover, no proof */
	assert_int_equal(dnssec_prove_wildcard(t_name("a.z.w.example."), 2, t_name("example."), nsec(N_XW), &b, &d),
			 DNSSEC_BOGUS);
	/* labels that do not make an expansion */
	assert_int_equal(dnssec_prove_wildcard(t_name("a.z.w.example."), 4, t_name("example."), nsec(N_XYW), &b, &d),
			 DNSSEC_BOGUS);
	/* x.w.example exists: an answer for a.x.w.example cannot come from *.w */
	assert_int_equal(dnssec_prove_wildcard(t_name("a.x.w.example."), 2, t_name("example."),
					       t_list(nsec(N_XW), nsec(N_XYW), NULL), &b, &d),
			 DNSSEC_BOGUS);
}

/* RFC 4035 B.7: a.z.w.example AAAA: covered, and *.w.example has no AAAA. */
static void test_nsec_wildcard_no_data(void **state)
{
	(void)state;
	struct rrset *proof = t_list(nsec(N_XYW), nsec(N_WILD), NULL);
	struct dnssec_budget b = budget();
	struct dnssec_denial d;
	assert_int_equal(dnssec_prove_nodata(t_name("a.z.w.example."), TYPE_AAAA, t_name("example."), proof, &b, &d),
			 DNSSEC_SECURE);
	assert_int_equal(d.proof, DNSSEC_PROOF_WILDCARD_NODATA);
	assert_int_equal(dnssec_prove_nodata(t_name("a.z.w.example."), TYPE_MX, t_name("example."), proof, &b, &d),
			 DNSSEC_BOGUS);
	/* without the wildcard's NSEC */
	assert_int_equal(dnssec_prove_nodata(t_name("a.z.w.example."), TYPE_AAAA, t_name("example."), nsec(N_XYW), &b, &d),
			 DNSSEC_BOGUS);
}

/* ---- the predicates ---- */

static void test_nsec_covers_in_canonical_order_with_wrap_around(void **state)
{
	(void)state;
	const uint8_t *b = t_name("b.example."), *ns1 = t_name("ns1.example.");
	assert_true(dnssec_nsec_covers(b, ns1, t_name("ml.example.")));
	assert_true(dnssec_nsec_covers(b, ns1, t_name("b.b.example."))); /* below b sorts after it */
	assert_false(dnssec_nsec_covers(b, ns1, b));
	assert_false(dnssec_nsec_covers(b, ns1, ns1));
	assert_false(dnssec_nsec_covers(b, ns1, t_name("a.example.")));
	assert_false(dnssec_nsec_covers(b, ns1, t_name("x.example.")));
	/* the last NSEC points back at the apex */
	const uint8_t *xx = t_name("xx.example."), *apex = t_name("example.");
	assert_true(dnssec_nsec_covers(xx, apex, t_name("zz.example.")));
	assert_true(dnssec_nsec_covers(xx, apex, t_name("a.xx.example.")));
	assert_false(dnssec_nsec_covers(xx, apex, t_name("a.example.")));
	assert_false(dnssec_nsec_covers(xx, apex, apex));
	assert_false(dnssec_nsec_covers(xx, apex, t_name("zz.other.")));
	/* an only NSEC: the apex alone exists */
	assert_true(dnssec_nsec_covers(apex, apex, t_name("a.example.")));
	/* an empty non-terminal exists */
	assert_false(dnssec_nsec_covers(t_name("x.w.example."), t_name("x.y.w.example."),
					t_name("y.w.example.")));
	/* case does not matter */
	assert_true(dnssec_nsec_covers(t_name("B.Example."), ns1, t_name("ML.EXAMPLE.")));
}

static void test_nsec3_covers_hashes_with_wrap_around(void **state)
{
	(void)state;
	uint8_t lo[20], mid[20], hi[20];
	memset(lo, 0x10, 20);
	memset(mid, 0x80, 20);
	memset(hi, 0xf0, 20);
	assert_true(dnssec_nsec3_covers(lo, hi, 20, mid));
	assert_false(dnssec_nsec3_covers(lo, hi, 20, lo));
	assert_false(dnssec_nsec3_covers(lo, hi, 20, hi));
	assert_false(dnssec_nsec3_covers(lo, mid, 20, hi));
	/* the last record wraps to the first */
	assert_true(dnssec_nsec3_covers(mid, lo, 20, hi));
	uint8_t zero[20] = { 0 };
	assert_true(dnssec_nsec3_covers(mid, lo, 20, zero));
	assert_false(dnssec_nsec3_covers(hi, lo, 20, mid));
	/* a chain of one covers everything but itself */
	assert_true(dnssec_nsec3_covers(mid, mid, 20, lo));
	assert_false(dnssec_nsec3_covers(mid, mid, 20, mid));
}

static void test_type_bitmaps_parse_and_reject_garbage(void **state)
{
	(void)state;
	struct rrset *s = nsec("a.example. 3600 IN NSEC b.example. A MX RRSIG NSEC TYPE1234");
	uint16_t len;
	const uint8_t *rd = rrset_rdata_first(s, &len), *next, *bm;
	uint16_t bm_len;
	assert_int_equal(dnssec_nsec_parse(rd, len, &next, &bm, &bm_len), 0);
	assert_true(dnssec_bitmap_has(bm, bm_len, TYPE_A));
	assert_true(dnssec_bitmap_has(bm, bm_len, TYPE_MX));
	assert_true(dnssec_bitmap_has(bm, bm_len, 1234));
	assert_false(dnssec_bitmap_has(bm, bm_len, TYPE_AAAA));
	assert_false(dnssec_bitmap_has(bm, bm_len, TYPE_DS));
	static const uint8_t bad[][4] = { { 0, 0 }, { 0, 33 }, { 0, 2, 0x40 }, { 1, 1, 0x40, 0 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t buf[16] = { 1, 'a', 0 };
		memcpy(buf + 3, bad[i], 4);
		uint16_t blen = i == 2 ? 6 : (i == 3 ? 7 : 5);
		assert_int_equal(dnssec_nsec_parse(buf, blen, &next, &bm, &bm_len), TERN_EMALFORMED);
	}
	/* windows out of order */
	static const uint8_t order[] = { 1, 'a', 0, 1, 1, 0x40, 0, 1, 0x40 };
	assert_int_equal(dnssec_nsec_parse(order, sizeof(order), &next, &bm, &bm_len), TERN_EMALFORMED);
}

#define T(f) cmocka_unit_test_setup_teardown(f, t_setup, t_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_nsec3_hash_matches_rfc5155_appendix_a),
		T(test_nsec3_hash_refuses_unknown_algorithms_and_high_iterations),
		T(test_nsec3_owner_hash_rejects_what_is_not_base32hex_under_the_zone),
		T(test_nsec3_rfc5155_b1_name_error),
		T(test_nsec3_name_error_without_the_wildcard_proof_is_bogus_with_ede_12),
		T(test_nsec3_rfc5155_b2_no_data),
		T(test_nsec3_rfc5155_b21_no_data_empty_non_terminal),
		T(test_nsec3_rfc5155_b3_referral_to_opt_out_unsigned_zone_is_insecure),
		T(test_nsec3_rfc5155_b4_wildcard_expansion),
		T(test_nsec3_rfc5155_b5_wildcard_no_data),
		T(test_nsec3_child_apex_cannot_deny_ds),
		T(test_nsec3_iterations_above_limit_are_insecure_with_ede_27_without_hashing),
		T(test_nsec3_hash_flood_with_distinct_salts_is_bounded),
		T(test_nsec3_unknown_hash_algorithm_only_is_insecure),
		T(test_nsec3_records_of_another_zone_are_ignored),
		T(test_nsec_name_error),
		T(test_nsec_name_error_with_a_gap_is_bogus_with_ede_12),
		T(test_nsec_below_a_delegation_proves_nothing),
		T(test_nsec_no_data),
		T(test_nsec_no_data_empty_non_terminal),
		T(test_nsec_insecure_delegation_needs_the_parent_side),
		T(test_nsec_wildcard_expansion),
		T(test_nsec_wildcard_no_data),
		T(test_nsec_covers_in_canonical_order_with_wrap_around),
		T(test_nsec3_covers_hashes_with_wrap_around),
		T(test_type_bitmaps_parse_and_reject_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
