/* fuzz/fuzz_cache_entry: libFuzzer target for reading values back from the
 * cache's map (cache/entry: FORMAT: cache-entry, cache-payload). The map is a
 * file that a crash, a disk or another process may have damaged, so every
 * value is decoded as untrusted bytes. The input is a key's type (2 bytes,
 * big-endian) and then the value. A value that decodes must hold exactly what
 * the format says: a payload inside the value that walks record by record to
 * its end, as the resolver walks it, and that encodes back to the same bytes.
 * The key helpers run on the value's bytes as a would-be name and key too.
 * Any broken invariant aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cache/entry.h"
#include "cache/key.h"
#include "fuzz/fuzz.h"

/* Walk @n records of (u16 rdlen, rdlen bytes) from @p, within @len bytes.
 * Returns the bytes walked. */
static size_t walk_records(const uint8_t *p, size_t len, unsigned n)
{
	size_t pos = 0;
	for (unsigned i = 0; i < n; i++) {
		CHECK(len - pos >= 2);
		size_t rdlen = (size_t)p[pos] << 8 | p[pos + 1];
		pos += 2;
		CHECK(len - pos >= rdlen);
		pos += rdlen;
	}
	return pos;
}

static void check_entry(const uint8_t *v, size_t len, uint16_t type)
{
	struct cache_entry e;
	uint64_t expire_at_s;
	if (cache_entry_decode(v, len, type, &e, &expire_at_s) != 0)
		return;
	/* the payload is the value's tail, and all of it */
	CHECK(len >= ENTRY_HDR_LEN);
	CHECK(e.data_len == len - ENTRY_HDR_LEN);
	CHECK(e.data_len <= ENTRY_DATA_MAX);
	CHECK(e.data_len == 0 ? e.data == NULL : e.data == v + ENTRY_HDR_LEN);
	CHECK(e.ttl_s == 0 && !e.stale);
	CHECK(entry_fields_ok(type, e.kind, e.rank, e.verdict, e.why));
	CHECK(e.verdict <= VERDICT_INDETERMINATE && e.why <= CACHE_WHY_MAX);
	CHECK(e.why == 0 || e.verdict == VERDICT_INSECURE || e.verdict == VERDICT_BOGUS);
	CHECK(v[3] == (uint8_t)(e.verdict | e.why << 3));
	/* FORMAT: cache-payload, walked as a reader would */
	if (e.kind == CACHE_RRSET) {
		CHECK(e.n_rdata > 0);
		CHECK(walk_records(e.data, e.data_len, (unsigned)e.n_rdata + e.n_sigs) == e.data_len);
	} else if (e.data_len > 0) {
		int name_len = key_name_len(e.data, e.data_len);
		CHECK(name_len > 0 && (size_t)name_len <= e.data_len);
		CHECK((size_t)name_len + walk_records(e.data + name_len, e.data_len - (size_t)name_len,
						      1) == e.data_len);
	}
	/* and it encodes back to the same bytes: nothing is read twice or lost */
	e.ttl_s = e.orig_ttl_s; /* what a stash writes as the original TTL */
	CHECK(entry_size(&e) == len);
	uint8_t *again = malloc(len);
	CHECK(again != NULL);
	entry_encode(again, &e, expire_at_s);
	CHECK(memcmp(again, v, len) == 0);
	free(again);
}

/* The bytes as a name: the key helpers must stay within them and agree. */
static void check_name(const uint8_t *p, size_t len)
{
	int name_len = key_name_len(p, len);
	if (name_len < 0)
		return;
	uint8_t key[KEY_DB_MAX], labels[KEY_MAX];
	size_t domain_len;
	int key_len = key_locate(key, p, 1, &domain_len);
	CHECK(key_len > 3 && key_len <= KEY_DB_MAX);
	CHECK(domain_len == key_domain_len(key + 1, (size_t)key_len - 1));
	uint16_t type;
	CHECK(key_type(key, (size_t)key_len, &type) && type == 1);
	int labels_len = key_prefix(labels, p, true);
	CHECK(labels_len == key_len - 4);
	CHECK(memcmp(labels, key + 1, (size_t)labels_len) == 0);
	/* parents: one label fewer each time, down to the root */
	size_t at = (size_t)labels_len;
	unsigned depth = key_depth(labels, at);
	while (at > 0) {
		size_t parent = key_parent_len(labels, at);
		CHECK(parent < at);
		CHECK(key_depth(labels, parent) == --depth);
		CHECK(key_common_len(labels, at, labels, parent) == parent);
		at = parent;
	}
	CHECK(depth == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint16_t type = (uint16_t)(data[0] << 8 | data[1]);
	check_entry(data + 2, size - 2, type);
	check_name(data + 2, size - 2);
	return 0;
}
