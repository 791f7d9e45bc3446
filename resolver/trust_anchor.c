/* resolver/trust_anchor: loads trust anchors from zone files with ldns (text
 * only, start-up only: DESIGN.md keeps ldns off the hot path) into RRsets in
 * the cache-payload format, and answers negative trust anchor look-ups. */
#include "resolver/trust_anchor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "base/err.h"
#include "proto/wire.h"
#include "resolver/dnssec.h"

static void fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Append one RDATA to @s (FORMAT: cache-payload). */
static int rrset_add(struct rrset *s, const uint8_t *rd, size_t len)
{
	uint8_t *grown = realloc(s->rdata, s->rdata_len + 2 + len);
	if (!grown)
		return -ENOMEM;
	s->rdata = grown;
	s->rdata[s->rdata_len] = (uint8_t)(len >> 8);
	s->rdata[s->rdata_len + 1] = (uint8_t)len;
	memcpy(s->rdata + s->rdata_len + 2, rd, len);
	s->rdata_len += 2 + (uint32_t)len;
	s->n_rdata++;
	return 0;
}

static struct trust_anchor *anchor_get(struct trust_anchors *ta, const uint8_t *owner)
{
	for (size_t i = 0; i < ta->n_anchors; i++)
		if (name_equal(ta->anchors[i].owner, owner))
			return &ta->anchors[i];
	struct trust_anchor *grown = realloc(ta->anchors, (ta->n_anchors + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	ta->anchors = grown;
	struct trust_anchor *a = &ta->anchors[ta->n_anchors];
	memset(a, 0, sizeof(*a));
	size_t len = name_len(owner);
	if (!(a->owner = malloc(len)))
		return NULL;
	memcpy(a->owner, owner, len);
	name_lower(a->owner);
	a->ds.type = TYPE_DS;
	a->dnskey.type = TYPE_DNSKEY;
	ta->n_anchors++;
	return a;
}

/* Check one record; NULL when fine, else what is wrong. */
static const char *check_rdata(uint16_t type, const uint8_t *rd, size_t len)
{
	if (type == TYPE_DNSKEY) {
		if (len < 5)
			return "DNSKEY too short";
		if (rd[2] != DNSKEY_PROTOCOL)
			return "DNSKEY protocol is not 3";
		if (!((rd[0] << 8 | rd[1]) & DNSKEY_FLAG_ZONE))
			return "DNSKEY without the zone key bit";
		return NULL;
	}
	if (len < 5)
		return "DS too short";
	static const struct { uint8_t type; uint8_t len; } digests[] = {
		{ DNSSEC_DIGEST_SHA1, 20 }, { DNSSEC_DIGEST_SHA256, 32 }, { DNSSEC_DIGEST_SHA384, 48 },
	};
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (rd[3] == digests[i].type && len - 4 != digests[i].len)
			return "DS digest length does not match its type";
	return NULL;
}

/* The records of one file, before they are merged into the set. */
struct pending {
	uint8_t owner[NAME_MAX_WIRE];
	uint16_t type;
	uint8_t *rdata;
	size_t len;
};

static void pending_free(struct pending *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].rdata);
	free(p);
}

static int read_file(FILE *f, const char *path, struct pending **out, size_t *n_out, char *err,
		     size_t errlen)
{
	struct pending *p = NULL;
	size_t n = 0;
	uint32_t default_ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	int line = 1;
	int ret = 0;

	while (!feof(f)) {
		ldns_rr *rr = NULL;
		int at = line;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &default_ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st != LDNS_STATUS_OK) {
			fail(err, errlen, "%s:%d: %s", path, line > at ? line - 1 : at,
			     ldns_get_errorstr_by_id(st));
			ret = TERN_ECONFIG;
			break;
		}
		uint16_t type = (uint16_t)ldns_rr_get_type(rr);
		const char *why = NULL;
		ldns_buffer *buf = NULL;
		ldns_rdf *owner = ldns_rr_owner(rr);
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			why = "not class IN";
		else if (type != TYPE_DS && type != TYPE_DNSKEY)
			why = "not a DS or DNSKEY record";
		else if (!owner || ldns_rdf_size(owner) > NAME_MAX_WIRE)
			why = "bad owner name";
		else if (!(buf = ldns_buffer_new(512)) ||
			 ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK)
			why = "cannot encode the record";
		else
			why = check_rdata(type, ldns_buffer_begin(buf), ldns_buffer_position(buf));
		struct pending *grown = why ? NULL : realloc(p, (n + 1) * sizeof(*p));
		if (!why && grown) {
			p = grown;
			memset(&p[n], 0, sizeof(p[n]));
			memcpy(p[n].owner, ldns_rdf_data(owner), ldns_rdf_size(owner));
			p[n].type = type;
			p[n].len = ldns_buffer_position(buf);
			p[n].rdata = malloc(p[n].len);
			if (p[n].rdata)
				memcpy(p[n].rdata, ldns_buffer_begin(buf), p[n].len);
			n++;
		}
		bool oom = !why && (!grown || !p[n - 1].rdata);
		ldns_buffer_free(buf);
		ldns_rr_free(rr);
		if (why) {
			fail(err, errlen, "%s:%d: %s", path, line > at ? line - 1 : at, why);
			ret = TERN_ECONFIG;
			break;
		}
		if (oom) {
			fail(err, errlen, "%s: out of memory", path);
			ret = -ENOMEM;
			break;
		}
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (ret == 0 && n == 0) {
		fail(err, errlen, "%s: no DS or DNSKEY record", path);
		ret = TERN_ECONFIG;
	}
	if (ret != 0) {
		pending_free(p, n);
		return ret;
	}
	*out = p;
	*n_out = n;
	return 0;
}

int trust_anchor_load(struct trust_anchors *ta, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		fail(err, errlen, "%s: %s", path, strerror(e));
		return TERN_ECONFIG;
	}
	struct pending *p = NULL;
	size_t n = 0;
	int ret = read_file(f, path, &p, &n, err, errlen);
	fclose(f);
	if (ret != 0)
		return ret;

	/* Merge into a copy so that a failure leaves @ta as it was. */
	struct trust_anchors merged = { 0 };
	for (size_t i = 0; i < ta->n_anchors && ret == 0; i++) {
		struct trust_anchor *src = &ta->anchors[i], *dst = anchor_get(&merged, src->owner);
		ret = -ENOMEM;
		if (!dst)
			break;
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		ret = 0;
		while (ret == 0 && rrset_rdata_next(&src->ds, &off, &rd, &len))
			ret = rrset_add(&dst->ds, rd, len);
		off = 0;
		while (ret == 0 && rrset_rdata_next(&src->dnskey, &off, &rd, &len))
			ret = rrset_add(&dst->dnskey, rd, len);
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct trust_anchor *a = anchor_get(&merged, p[i].owner);
		ret = !a ? -ENOMEM
			 : rrset_add(p[i].type == TYPE_DS ? &a->ds : &a->dnskey, p[i].rdata,
				     p[i].len);
	}
	pending_free(p, n);
	if (ret != 0) {
		trust_anchors_free(&merged);
		fail(err, errlen, "%s: out of memory", path);
		return ret;
	}
	/* the RRsets' owners point at the anchor's name */
	for (size_t i = 0; i < merged.n_anchors; i++) {
		merged.anchors[i].ds.owner = merged.anchors[i].owner;
		merged.anchors[i].dnskey.owner = merged.anchors[i].owner;
		merged.anchors[i].ds.ttl_s = merged.anchors[i].dnskey.ttl_s = UINT32_MAX;
		merged.anchors[i].ds.orig_ttl_s = merged.anchors[i].dnskey.orig_ttl_s = UINT32_MAX;
	}
	merged.negative = ta->negative;
	merged.n_negative = ta->n_negative;
	ta->negative = NULL;
	ta->n_negative = 0;
	trust_anchors_free(ta);
	*ta = merged;
	return 0;
}

const struct trust_anchor *trust_anchor_find(const struct trust_anchors *ta,
					     const uint8_t *name)
{
	const struct trust_anchor *best = NULL;
	int best_labels = -1;
	for (size_t i = 0; i < ta->n_anchors; i++) {
		const struct trust_anchor *a = &ta->anchors[i];
		int labels = name_labels(a->owner);
		if (labels > best_labels && name_is_under(name, a->owner)) {
			best = a;
			best_labels = labels;
		}
	}
	return best;
}

int trust_anchor_add_negative(struct trust_anchors *ta, const uint8_t *name)
{
	uint8_t **grown = realloc(ta->negative, (ta->n_negative + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	ta->negative = grown;
	size_t len = name_len(name);
	uint8_t *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, len);
	name_lower(copy);
	ta->negative[ta->n_negative++] = copy;
	return 0;
}

bool trust_anchor_is_negative(const struct trust_anchors *ta, const uint8_t *name)
{
	for (size_t i = 0; i < ta->n_negative; i++)
		if (name_is_under(name, ta->negative[i]))
			return true;
	return false;
}

void trust_anchors_free(struct trust_anchors *ta)
{
	for (size_t i = 0; i < ta->n_anchors; i++) {
		free(ta->anchors[i].owner);
		free(ta->anchors[i].ds.rdata);
		free(ta->anchors[i].dnskey.rdata);
	}
	free(ta->anchors);
	for (size_t i = 0; i < ta->n_negative; i++)
		free(ta->negative[i]);
	free(ta->negative);
	memset(ta, 0, sizeof(*ta));
}
