/* resolver/dnssec_nsec: authenticated denial of existence with NSEC (RFC 4035
 * 5.4, RFC 4034 4) and NSEC3 (RFC 5155 8), with the RFC 6840 4 corrections,
 * and the covering predicates that aggressive negative caching (RFC 8198)
 * reuses. The records come in already verified; this file only reasons about
 * names and bitmaps, and pays for NSEC3 hashes out of the answer's budget. */
#include "resolver/dnssec.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/err.h"

/* NSEC3 records considered per proof. An honest answer carries at most 3 per
 * proof (closest encloser, next closer, wildcard); more than this is noise or
 * an attack, and the rest are ignored. */
#define NSEC3_RECORDS_MAX 32
#define LABELS_MAX 128 /* a 255-byte name has at most 127 labels */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int rd_name_len(const uint8_t *p, size_t avail)
{
	size_t at = 0;
	while (at < avail) {
		uint8_t l = p[at];
		if (l == 0)
			return at + 1 <= NAME_MAX_WIRE ? (int)(at + 1) : -1;
		if (l > LABEL_MAX)
			return -1;
		at += 1u + l;
	}
	return -1;
}

/* RFC 4034 4.1.2: windows of (number, length 1-32, bits), in increasing order. */
static bool bitmap_valid(const uint8_t *bm, uint16_t len)
{
	size_t at = 0;
	int last = -1;
	while (at < len) {
		if (at + 2 > len || bm[at] <= last || bm[at + 1] == 0 || bm[at + 1] > 32 ||
		    at + 2 + bm[at + 1] > len)
			return false;
		last = bm[at];
		at += 2u + bm[at + 1];
	}
	return true;
}

bool dnssec_bitmap_has(const uint8_t *bitmap, uint16_t len, uint16_t type)
{
	uint8_t window = (uint8_t)(type >> 8), bit = (uint8_t)type;
	size_t at = 0;
	while (at + 2 <= len) {
		uint8_t w = bitmap[at], n = bitmap[at + 1];
		if (n == 0 || n > 32 || at + 2 + n > len)
			return false;
		if (w == window)
			return bit / 8 < n && (bitmap[at + 2 + bit / 8] & (0x80 >> (bit % 8)));
		at += 2u + n;
	}
	return false;
}

int dnssec_nsec_parse(const uint8_t *rd, uint16_t len, const uint8_t **next,
		      const uint8_t **bitmap, uint16_t *bitmap_len)
{
	int n = rd_name_len(rd, len);
	if (n < 0 || !bitmap_valid(rd + n, (uint16_t)(len - n)))
		return TERN_EMALFORMED;
	*next = rd;
	*bitmap = rd + n;
	*bitmap_len = (uint16_t)(len - n);
	return 0;
}

int dnssec_nsec3_parse(const uint8_t *rd, uint16_t len, struct nsec3_rdata *out)
{
	/* RFC 5155 3.2: alg, flags, iterations, salt length, salt, hash length,
	 * next hashed owner, type bitmaps */
	if (len < 5)
		return TERN_EMALFORMED;
	out->alg = rd[0];
	out->flags = rd[1];
	out->iterations = get16(rd + 2);
	out->salt_len = rd[4];
	size_t at = 5u + out->salt_len;
	if (at + 1 > len)
		return TERN_EMALFORMED;
	out->salt = rd + 5;
	out->next_len = rd[at];
	out->next = rd + at + 1;
	at += 1u + out->next_len;
	if (out->next_len == 0 || at > len || !bitmap_valid(rd + at, (uint16_t)(len - at)))
		return TERN_EMALFORMED;
	out->bitmap = rd + at;
	out->bitmap_len = (uint16_t)(len - at);
	return 0;
}

bool dnssec_nsec_covers(const uint8_t *owner, const uint8_t *next, const uint8_t *name)
{
	if (name_compare(owner, name) >= 0)
		return false;
	if (name_compare(owner, next) < 0) {
		if (name_compare(name, next) >= 0)
			return false;
	} else if (!name_is_under(name, next)) { /* the last NSEC: next is the apex */
		return false;
	}
	/* RFC 4035 3.1.3.2 / 5.4: names below @name sort right after it, so a
	 * next name under @name means @name is an empty non-terminal: it exists */
	return !name_is_under(next, name);
}

bool dnssec_nsec3_covers(const uint8_t *owner, const uint8_t *next, uint8_t len,
			 const uint8_t *hash)
{
	int on = memcmp(owner, next, len);
	int oh = memcmp(owner, hash, len);
	int hn = memcmp(hash, next, len);
	if (on < 0)
		return oh < 0 && hn < 0;
	return oh < 0 || hn < 0; /* the last in the chain wraps to the first */
}

int dnssec_nsec3_hash(const uint8_t *name, uint8_t alg, uint16_t iterations,
		      const uint8_t *salt, uint8_t salt_len, struct dnssec_budget *b,
		      uint8_t out[NSEC3_HASH_MAX])
{
	if (alg != NSEC3_HASH_SHA1)
		return TERN_EMALFORMED;
	if (iterations > DNSSEC_NSEC3_ITERATIONS_MAX || b->nsec3_hashes_left == 0)
		return TERN_ELIMIT;
	b->nsec3_hashes_left--;
	b->nsec3_hashes_done++;
	b->nsec3_sha1_done += iterations + 1u;

	uint8_t lowered[NAME_MAX_WIRE];
	size_t len = name_len(name);
	memcpy(lowered, name, len);
	name_lower(lowered);

	/* RFC 5155 5: IH(salt, x, 0) = H(x | salt); IH(salt, x, k) = H(IH(salt, x, k-1) | salt) */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex2(ctx, EVP_sha1(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, lowered, len) == 1 &&
		  EVP_DigestUpdate(ctx, salt, salt_len) == 1 &&
		  EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	for (unsigned i = 0; ok && i < iterations; i++)
		ok = EVP_DigestInit_ex2(ctx, NULL, NULL) == 1 && /* reuse: no fetch per round */
		     EVP_DigestUpdate(ctx, out, NSEC3_HASH_MAX) == 1 &&
		     EVP_DigestUpdate(ctx, salt, salt_len) == 1 &&
		     EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return TERN_ELIMIT;
	}
	return NSEC3_HASH_MAX;
}

static int b32hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'v')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'V')
		return c - 'A' + 10;
	return -1;
}

int dnssec_nsec3_owner_hash(const uint8_t *owner, const uint8_t *zone,
			    uint8_t out[NSEC3_HASH_MAX])
{
	const uint8_t *parent = name_parent(owner);
	if (!parent || !name_equal(parent, zone))
		return TERN_EMALFORMED;
	uint8_t chars = owner[0];
	/* RFC 4648 7 without padding: every 8 characters make 5 bytes */
	if (chars == 0 || chars % 8 != 0 || chars / 8 * 5 > NSEC3_HASH_MAX)
		return TERN_EMALFORMED;
	int n = 0;
	for (int i = 0; i < chars; i += 8) {
		uint64_t acc = 0;
		for (int j = 0; j < 8; j++) {
			int v = b32hex_value(owner[1 + i + j]);
			if (v < 0)
				return TERN_EMALFORMED;
			acc = acc << 5 | (uint64_t)v;
		}
		for (int j = 4; j >= 0; j--)
			out[n + 4 - j] = (uint8_t)(acc >> (8 * j));
		n += 5;
	}
	return n;
}

/* ---- shared ---- */

static void result(struct dnssec_denial *out, enum dnssec_verdict v, enum dnssec_reason r,
		   enum dnssec_proof p)
{
	out->verdict = v;
	out->reason = r;
	out->proof = v == DNSSEC_BOGUS ? DNSSEC_PROOF_NONE : p;
}

static void set_encloser(struct dnssec_denial *out, const uint8_t *ce)
{
	memcpy(out->closest_encloser, ce, name_len(ce));
}

/* "*." + @ce into @out; false when it would not fit. */
static bool wildcard_of(const uint8_t *ce, uint8_t out[NAME_MAX_WIRE])
{
	size_t len = name_len(ce);
	if (len + 2 > NAME_MAX_WIRE)
		return false;
	out[0] = 1;
	out[1] = '*';
	memcpy(out + 2, ce, len);
	return true;
}

/* Number of labels @a and @b share from the right. */
static int common_labels(const uint8_t *a, const uint8_t *b)
{
	int na = name_labels(a), nb = name_labels(b);
	int n = na < nb ? na : nb;
	while (n > 0 && !name_equal(name_suffix(a, n), name_suffix(b, n)))
		n--;
	return n;
}

/* ---- NSEC ---- */

struct nsec {
	const uint8_t *owner, *next, *bitmap;
	uint16_t bitmap_len;
};

/* Call @fn on each well-formed NSEC in @zone; stops when it returns true. */
static bool nsec_each(const struct rrset *proofs, const uint8_t *zone,
		      bool (*fn)(const struct nsec *, void *), void *arg)
{
	for (const struct rrset *s = proofs; s; s = s->next) {
		if (s->type != TYPE_NSEC || !s->owner || !name_is_under(s->owner, zone))
			continue;
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		while (rrset_rdata_next(s, &off, &rd, &len)) {
			struct nsec n = { .owner = s->owner };
			if (dnssec_nsec_parse(rd, len, &n.next, &n.bitmap, &n.bitmap_len) != 0 ||
			    !name_is_under(n.next, zone))
				continue;
			if (fn(&n, arg))
				return true;
		}
	}
	return false;
}

/* RFC 6840 4.1: an NSEC at a delegation (NS without SOA) or at a DNAME says
 * nothing about the names below it: they are in another zone, or redirected. */
static bool cuts_below(const uint8_t *bitmap, uint16_t len)
{
	return dnssec_bitmap_has(bitmap, len, TYPE_DNAME) ||
	       (dnssec_bitmap_has(bitmap, len, TYPE_NS) && !dnssec_bitmap_has(bitmap, len, TYPE_SOA));
}

static bool nsec_proves_absent(const struct nsec *n, const uint8_t *name)
{
	if (!dnssec_nsec_covers(n->owner, n->next, name))
		return false;
	return !(name_is_under(name, n->owner) && cuts_below(n->bitmap, n->bitmap_len));
}

struct nsec_query {
	const uint8_t *name;
	const struct nsec *found;
	struct nsec copy;
};

static bool find_absent(const struct nsec *n, void *arg)
{
	struct nsec_query *q = arg;
	if (!nsec_proves_absent(n, q->name))
		return false;
	q->copy = *n;
	q->found = &q->copy;
	return true;
}

static bool find_match(const struct nsec *n, void *arg)
{
	struct nsec_query *q = arg;
	if (!name_equal(n->owner, q->name))
		return false;
	q->copy = *n;
	q->found = &q->copy;
	return true;
}

/* An NSEC that proves an empty non-terminal: owner < name < next with next
 * below name (RFC 4035 3.1.3.2). */
static bool find_ent(const struct nsec *n, void *arg)
{
	struct nsec_query *q = arg;
	if (name_compare(n->owner, q->name) >= 0 || name_compare(q->name, n->next) >= 0 ||
	    name_equal(n->next, q->name) || !name_is_under(n->next, q->name))
		return false;
	if (name_is_under(q->name, n->owner) && cuts_below(n->bitmap, n->bitmap_len))
		return false;
	q->copy = *n;
	q->found = &q->copy;
	return true;
}

static const struct nsec *nsec_find(const struct rrset *proofs, const uint8_t *zone,
				    const uint8_t *name, bool (*fn)(const struct nsec *, void *),
				    struct nsec_query *q)
{
	q->name = name;
	q->found = NULL;
	nsec_each(proofs, zone, fn, q);
	return q->found;
}

/* The closest encloser of @name that NSEC @n (which proves @name absent)
 * implies: the deeper of the ancestors @name shares with owner and next. */
static const uint8_t *nsec_encloser(const struct nsec *n, const uint8_t *name)
{
	int a = common_labels(name, n->owner), b = common_labels(name, n->next);
	return name_suffix(name, a > b ? a : b);
}

/* The parent side of a zone cut: NS without SOA. */
static bool is_cut(const uint8_t *bm, uint16_t len)
{
	return dnssec_bitmap_has(bm, len, TYPE_NS) && !dnssec_bitmap_has(bm, len, TYPE_SOA);
}

static bool nodata_bitmap_ok(const uint8_t *name, uint16_t qtype, const uint8_t *bm,
			     uint16_t len, bool at_name)
{
	if (dnssec_bitmap_has(bm, len, qtype) || dnssec_bitmap_has(bm, len, TYPE_CNAME))
		return false;
	if (!at_name)
		return true;
	if (qtype == TYPE_DS) /* RFC 6840 4.4: the child apex cannot deny the parent's DS */
		return !dnssec_bitmap_has(bm, len, TYPE_SOA) || name[0] == 0;
	/* the parent side of a delegation cannot deny the child's data */
	return !(dnssec_bitmap_has(bm, len, TYPE_NS) && !dnssec_bitmap_has(bm, len, TYPE_SOA));
}

static bool have_type(const struct rrset *proofs, uint16_t type)
{
	for (const struct rrset *s = proofs; s; s = s->next)
		if (s->type == type && s->n_rdata > 0)
			return true;
	return false;
}

static enum dnssec_verdict nsec_nxdomain(const uint8_t *qname, const uint8_t *zone,
					 const struct rrset *proofs, struct dnssec_denial *out)
{
	struct nsec_query q, w;
	uint8_t wc[NAME_MAX_WIRE];
	if (nsec_find(proofs, zone, qname, find_match, &q) ||
	    !nsec_find(proofs, zone, qname, find_absent, &q)) {
		result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
		return out->verdict;
	}
	const uint8_t *ce = nsec_encloser(q.found, qname);
	if (!wildcard_of(ce, wc) || !nsec_find(proofs, zone, wc, find_absent, &w)) {
		result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
		return out->verdict;
	}
	set_encloser(out, ce);
	result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_NXDOMAIN);
	return out->verdict;
}

static enum dnssec_verdict nsec_nodata(const uint8_t *qname, uint16_t qtype,
				       const uint8_t *zone, const struct rrset *proofs,
				       struct dnssec_denial *out)
{
	struct nsec_query q, w;
	uint8_t wc[NAME_MAX_WIRE];
	if (nsec_find(proofs, zone, qname, find_match, &q)) {
		if (nodata_bitmap_ok(qname, qtype, q.found->bitmap, q.found->bitmap_len, true)) {
			result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_NODATA);
			out->delegation = is_cut(q.found->bitmap, q.found->bitmap_len);
		} else
			result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
		return out->verdict;
	}
	if (nsec_find(proofs, zone, qname, find_ent, &q)) {
		result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_NODATA);
		return out->verdict;
	}
	/* RFC 4035 5.4: wildcard NODATA, qname absent and the wildcard lacks the type */
	if (qtype != TYPE_DS && nsec_find(proofs, zone, qname, find_absent, &q)) {
		const uint8_t *ce = nsec_encloser(q.found, qname);
		if (wildcard_of(ce, wc) && nsec_find(proofs, zone, wc, find_match, &w) &&
		    nodata_bitmap_ok(wc, qtype, w.found->bitmap, w.found->bitmap_len, false)) {
			set_encloser(out, ce);
			result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_WILDCARD_NODATA);
			return out->verdict;
		}
	}
	result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
	return out->verdict;
}

static enum dnssec_verdict nsec_wildcard(const uint8_t *qname, int labels,
					 const uint8_t *zone, const struct rrset *proofs,
					 struct dnssec_denial *out)
{
	struct nsec_query q;
	const uint8_t *nc = name_suffix(qname, labels + 1);
	/* RFC 4035 5.3.4: no closer match; covering the next closer name also
	 * covers every name below it, qname included */
	if (!nsec_find(proofs, zone, nc, find_absent, &q)) {
		result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
		return out->verdict;
	}
	set_encloser(out, name_suffix(qname, labels));
	result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_WILDCARD_ANSWER);
	return out->verdict;
}

/* ---- NSEC3 ---- */

struct n3rec {
	uint8_t hash[NSEC3_HASH_MAX];
	struct nsec3_rdata rd;
};

/* One NSEC3 parameter set and what it has hashed for one proof. */
struct n3ctx {
	const uint8_t *zone, *qname;
	int qlabels, zlabels;
	struct dnssec_budget *b;
	const struct n3rec *recs; /* those with the parameters below */
	size_t n_recs;
	const struct nsec3_rdata *params;
	bool limited;
	bool have[LABELS_MAX];
	uint8_t h[LABELS_MAX][NSEC3_HASH_MAX]; /* hash of qname's suffix with i labels */
};

static bool same_params(const struct nsec3_rdata *a, const struct nsec3_rdata *b)
{
	return a->alg == b->alg && a->iterations == b->iterations && a->salt_len == b->salt_len &&
	       memcmp(a->salt, b->salt, a->salt_len) == 0;
}

/* The usable NSEC3 records of @zone into @recs (at most NSEC3_RECORDS_MAX).
 * *@unknown is set when some had an unknown algorithm, *@too_many_iter when
 * some had too many iterations. */
static size_t n3_collect(const struct rrset *proofs, const uint8_t *zone, struct n3rec *recs,
			 bool *unknown, bool *too_many_iter)
{
	size_t n = 0;
	*unknown = *too_many_iter = false;
	for (const struct rrset *s = proofs; s; s = s->next) {
		if (s->type != TYPE_NSEC3 || !s->owner)
			continue;
		uint8_t owner_hash[NSEC3_HASH_MAX];
		int hl = dnssec_nsec3_owner_hash(s->owner, zone, owner_hash);
		if (hl < 0)
			continue;
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		while (n < NSEC3_RECORDS_MAX && rrset_rdata_next(s, &off, &rd, &len)) {
			struct nsec3_rdata r;
			if (dnssec_nsec3_parse(rd, len, &r) != 0)
				continue;
			/* RFC 5155 8.1, 8.2: ignore unknown algorithms and flags */
			if (r.flags > NSEC3_FLAG_OPT_OUT)
				continue;
			if (r.alg != NSEC3_HASH_SHA1) {
				*unknown = true;
				continue;
			}
			if (r.next_len != NSEC3_HASH_MAX || hl != NSEC3_HASH_MAX)
				continue;
			if (r.iterations > DNSSEC_NSEC3_ITERATIONS_MAX)
				*too_many_iter = true;
			memcpy(recs[n].hash, owner_hash, NSEC3_HASH_MAX);
			recs[n].rd = r;
			n++;
		}
	}
	return n;
}

static bool n3_hash(struct n3ctx *c, const uint8_t *name, uint8_t out[NSEC3_HASH_MAX])
{
	if (c->limited)
		return false;
	if (dnssec_nsec3_hash(name, c->params->alg, c->params->iterations, c->params->salt,
			      c->params->salt_len, c->b, out) < 0) {
		c->limited = true;
		return false;
	}
	return true;
}

/* The hash of qname's suffix with @labels labels, computed once. */
static const uint8_t *n3_hash_suffix(struct n3ctx *c, int labels)
{
	if (!c->have[labels]) {
		if (!n3_hash(c, name_suffix(c->qname, labels), c->h[labels]))
			return NULL;
		c->have[labels] = true;
	}
	return c->h[labels];
}

static const struct n3rec *n3_match(const struct n3ctx *c, const uint8_t *hash)
{
	for (size_t i = 0; i < c->n_recs; i++)
		if (memcmp(c->recs[i].hash, hash, NSEC3_HASH_MAX) == 0)
			return &c->recs[i];
	return NULL;
}

static const struct n3rec *n3_cover(const struct n3ctx *c, const uint8_t *hash)
{
	for (size_t i = 0; i < c->n_recs; i++)
		if (dnssec_nsec3_covers(c->recs[i].hash, c->recs[i].rd.next, NSEC3_HASH_MAX, hash))
			return &c->recs[i];
	return NULL;
}

enum ce_result { CE_NONE, CE_FOUND, CE_QNAME_EXISTS };

/* RFC 5155 8.3: the closest provable encloser of qname (*@ce_labels) and the
 * record covering the next closer name (*@nc). */
static enum ce_result n3_closest_encloser(struct n3ctx *c, int *ce_labels,
					  const struct n3rec **nc)
{
	for (int n = c->qlabels; n >= c->zlabels; n--) {
		const uint8_t *h = n3_hash_suffix(c, n);
		if (!h)
			return CE_NONE;
		const struct n3rec *m = n3_match(c, h);
		if (!m)
			continue;
		if (n == c->qlabels)
			return CE_QNAME_EXISTS;
		/* RFC 5155 8.3, RFC 6840 4.1: not an encloser across a cut or DNAME */
		if (cuts_below(m->rd.bitmap, m->rd.bitmap_len))
			return CE_NONE;
		const uint8_t *hn = n3_hash_suffix(c, n + 1);
		if (!hn || !(*nc = n3_cover(c, hn)))
			return CE_NONE;
		*ce_labels = n;
		return CE_FOUND;
	}
	return CE_NONE;
}

static bool opt_out(const struct n3rec *r)
{
	return r && (r->rd.flags & NSEC3_FLAG_OPT_OUT);
}

enum want { WANT_NXDOMAIN, WANT_NODATA, WANT_WILDCARD };

/* One proof with one parameter set; returns the verdict in @out. */
static void n3_prove(struct n3ctx *c, enum want want, uint16_t qtype, int wc_labels,
		     struct dnssec_denial *out)
{
	int ce = 0;
	const struct n3rec *nc = NULL, *m;
	uint8_t wc[NAME_MAX_WIRE], hw[NSEC3_HASH_MAX];
	const uint8_t *h;

	out->nsec3 = true;
	switch (want) {
	case WANT_NXDOMAIN: /* RFC 5155 8.4 */
		if (n3_closest_encloser(c, &ce, &nc) != CE_FOUND ||
		    !wildcard_of(name_suffix(c->qname, ce), wc) || !n3_hash(c, wc, hw) ||
		    !n3_cover(c, hw))
			break;
		set_encloser(out, name_suffix(c->qname, ce));
		out->opt_out = opt_out(nc);
		if (out->opt_out) /* the name may be an unsigned delegation (Unbound) */
			result(out, DNSSEC_INSECURE, DNSSEC_R_OPT_OUT, DNSSEC_PROOF_NXDOMAIN);
		else
			result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_NXDOMAIN);
		return;
	case WANT_NODATA: /* RFC 5155 8.5, 8.6, 8.7 */
		if (!(h = n3_hash_suffix(c, c->qlabels)))
			break;
		if ((m = n3_match(c, h))) {
			if (nodata_bitmap_ok(c->qname, qtype, m->rd.bitmap, m->rd.bitmap_len, true)) {
				result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_NODATA);
				out->delegation = is_cut(m->rd.bitmap, m->rd.bitmap_len);
			} else
				result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
			return;
		}
		if (n3_closest_encloser(c, &ce, &nc) != CE_FOUND)
			break;
		set_encloser(out, name_suffix(c->qname, ce));
		if (qtype != TYPE_DS && wildcard_of(name_suffix(c->qname, ce), wc) &&
		    n3_hash(c, wc, hw) && (m = n3_match(c, hw))) {
			/* a wildcard with the type: the answer should have been it */
			if (!nodata_bitmap_ok(wc, qtype, m->rd.bitmap, m->rd.bitmap_len, false))
				break;
			out->opt_out = opt_out(nc);
			if (out->opt_out)
				result(out, DNSSEC_INSECURE, DNSSEC_R_OPT_OUT,
				       DNSSEC_PROOF_WILDCARD_NODATA);
			else
				result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_WILDCARD_NODATA);
			return;
		}
		/* RFC 5155 8.6 (DS) and errata 3441 (other types): an opt-out span
		 * may hide an unsigned delegation at or above the name */
		if (opt_out(nc)) {
			out->opt_out = true;
			result(out, DNSSEC_INSECURE, DNSSEC_R_OPT_OUT, DNSSEC_PROOF_OPT_OUT);
			return;
		}
		break;
	case WANT_WILDCARD: /* RFC 5155 8.8 */
		if (!(h = n3_hash_suffix(c, wc_labels + 1)) || !(nc = n3_cover(c, h)))
			break;
		set_encloser(out, name_suffix(c->qname, wc_labels));
		out->opt_out = opt_out(nc);
		if (out->opt_out)
			result(out, DNSSEC_INSECURE, DNSSEC_R_OPT_OUT, DNSSEC_PROOF_WILDCARD_ANSWER);
		else
			result(out, DNSSEC_SECURE, DNSSEC_R_NONE, DNSSEC_PROOF_WILDCARD_ANSWER);
		return;
	}
	out->closest_encloser[0] = 0;
	out->opt_out = false;
	result(out, DNSSEC_BOGUS, c->limited ? DNSSEC_R_WORK_LIMIT : DNSSEC_R_NSEC_MISSING,
	       DNSSEC_PROOF_NONE);
}

static enum dnssec_verdict nsec3_prove(enum want want, const uint8_t *qname, uint16_t qtype,
				       int wc_labels, const uint8_t *zone,
				       const struct rrset *proofs, struct dnssec_budget *b,
				       struct dnssec_denial *out)
{
	struct n3rec all[NSEC3_RECORDS_MAX], group[NSEC3_RECORDS_MAX];
	bool unknown, too_many_iter;
	size_t n = n3_collect(proofs, zone, all, &unknown, &too_many_iter);

	out->nsec3 = true;
	if (too_many_iter) { /* RFC 9276 3.2: insecure, and no hashing at all */
		result(out, DNSSEC_INSECURE, DNSSEC_R_NSEC3_ITERATIONS, DNSSEC_PROOF_NONE);
		return out->verdict;
	}
	if (n == 0) {
		if (unknown) /* RFC 5155 8.1: only hash algorithms we do not know */
			result(out, DNSSEC_INSECURE, DNSSEC_R_UNSUPPORTED_ALG, DNSSEC_PROOF_NONE);
		else
			result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
		return out->verdict;
	}

	/* One proof per parameter set (a zone has one; two during a resalt).
	 * An attacker's many salts only drain the budget. */
	struct n3ctx local, *ctx = &local; /* ~3 KiB: the hashes it remembers */
	bool done[NSEC3_RECORDS_MAX] = { false };
	result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		size_t g = 0;
		for (size_t j = i; j < n; j++)
			if (!done[j] && same_params(&all[i].rd, &all[j].rd)) {
				group[g++] = all[j];
				done[j] = true;
			}
		memset(ctx, 0, sizeof(*ctx));
		ctx->zone = zone;
		ctx->qname = qname;
		ctx->qlabels = name_labels(qname);
		ctx->zlabels = name_labels(zone);
		ctx->b = b;
		ctx->recs = group;
		ctx->n_recs = g;
		ctx->params = &group[0].rd;
		n3_prove(ctx, want, qtype, wc_labels, out);
		if (out->verdict != DNSSEC_BOGUS || out->reason == DNSSEC_R_WORK_LIMIT)
			break;
	}
	return out->verdict;
}

/* ---- entry points ---- */

static bool start(const uint8_t *qname, const uint8_t *zone, struct dnssec_denial *out)
{
	memset(out, 0, sizeof(*out));
	result(out, DNSSEC_BOGUS, DNSSEC_R_NSEC_MISSING, DNSSEC_PROOF_NONE);
	return qname && zone && name_is_under(qname, zone);
}

static enum dnssec_verdict prove(enum want want, const uint8_t *qname, uint16_t qtype,
				 int wc_labels, const uint8_t *zone,
				 const struct rrset *proofs, struct dnssec_budget *b,
				 struct dnssec_denial *out)
{
	if (!start(qname, zone, out))
		return out->verdict;
	if (have_type(proofs, TYPE_NSEC)) {
		switch (want) {
		case WANT_NXDOMAIN: nsec_nxdomain(qname, zone, proofs, out); break;
		case WANT_NODATA: nsec_nodata(qname, qtype, zone, proofs, out); break;
		case WANT_WILDCARD: nsec_wildcard(qname, wc_labels, zone, proofs, out); break;
		}
		if (out->verdict != DNSSEC_BOGUS || !have_type(proofs, TYPE_NSEC3))
			return out->verdict;
		memset(out, 0, sizeof(*out));
	}
	return nsec3_prove(want, qname, qtype, wc_labels, zone, proofs, b, out);
}

enum dnssec_verdict dnssec_prove_nxdomain(const uint8_t *qname, const uint8_t *zone,
					  const struct rrset *proofs, struct dnssec_budget *b,
					  struct dnssec_denial *out)
{
	return prove(WANT_NXDOMAIN, qname, 0, 0, zone, proofs, b, out);
}

enum dnssec_verdict dnssec_prove_nodata(const uint8_t *qname, uint16_t qtype,
					const uint8_t *zone, const struct rrset *proofs,
					struct dnssec_budget *b, struct dnssec_denial *out)
{
	return prove(WANT_NODATA, qname, qtype, 0, zone, proofs, b, out);
}

enum dnssec_verdict dnssec_prove_wildcard(const uint8_t *qname, uint8_t rrsig_labels,
					  const uint8_t *zone, const struct rrset *proofs,
					  struct dnssec_budget *b, struct dnssec_denial *out)
{
	/* an expansion has fewer RRSIG labels than the name, and the closest
	 * encloser is in the zone */
	if (!start(qname, zone, out) || rrsig_labels >= name_labels(qname) ||
	    rrsig_labels < name_labels(zone))
		return out->verdict;
	return prove(WANT_WILDCARD, qname, 0, rrsig_labels, zone, proofs, b, out);
}
