/* resolver/trust_anchor: the DNSSEC trust anchors (DS or DNSKEY records in
 * zone-file format, read with ldns) and the negative trust anchors (RFC 7646:
 * names under which validation is not done). Loaded once at start-up; after
 * that the set is immutable and may be read from every worker thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/rrset.h"

/* Debian's dns-root-data: the root KSKs as DNSKEY records (root.key) and as
 * DS records (root.ds); either is a complete anchor for ".". */
#define TRUST_ANCHOR_ROOT_KEY "/usr/share/dns/root.key"
#define TRUST_ANCHOR_ROOT_DS "/usr/share/dns/root.ds"

/** The anchors for one zone: its DS and/or DNSKEY records, as RRsets ready for
 * dnssec_validate_dnskeys() (type DS / DNSKEY; n_rdata 0 when there are none;
 * owner, rdata owned by the struct trust_anchors). */
struct trust_anchor {
	uint8_t *owner; /* lowercase wire name */
	struct rrset ds, dnskey;
};

/** Zero-initialise before the first use. Owns everything it points to. */
struct trust_anchors {
	struct trust_anchor *anchors;
	size_t n_anchors;
	uint8_t **negative; /* lowercase wire names */
	size_t n_negative;
};

/** Add the DS and DNSKEY records of the zone file @path to @ta (several files
 * may be loaded into one set). $ORIGIN, $TTL, comments and multi-line records
 * work as in zone files. Every record must be class IN, type DS or DNSKEY; a
 * DNSKEY must have protocol 3 and the zone key bit; a DS of a known digest
 * type must have a digest of its length. A file without any record is an
 * error. Returns 0, or TERN_ECONFIG with "PATH:LINE: what" (or "PATH: what")
 * in @err (NUL-terminated, truncated to @errlen); on error @ta keeps what was
 * loaded before the call and nothing of this file. -ENOMEM when out of memory. */
int trust_anchor_load(struct trust_anchors *ta, const char *path, char *err, size_t errlen);

/** The anchor at @name or at its closest ancestor that has one; NULL when
 * none (validation of @name cannot start: INDETERMINATE). Borrowed from @ta. */
const struct trust_anchor *trust_anchor_find(const struct trust_anchors *ta,
					     const uint8_t *name);

/** Add negative trust anchor @name (wire form, copied). 0 or -ENOMEM. */
int trust_anchor_add_negative(struct trust_anchors *ta, const uint8_t *name);
/** True when @name is at or under a negative trust anchor: answers there are
 * INSECURE without validation. */
bool trust_anchor_is_negative(const struct trust_anchors *ta, const uint8_t *name);

/** Free everything in @ta and zero it. Safe twice. */
void trust_anchors_free(struct trust_anchors *ta);
