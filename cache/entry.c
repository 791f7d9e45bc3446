/* cache/entry: encode and check LMDB values (FORMAT: cache-entry) and their
 * payload (FORMAT: cache-payload). Values are checked on every read: the map
 * is a file that another process, a crash or a disk may have damaged. */
#include "cache/entry.h"
#include "cache/key.h"
#include "base/err.h"

#include <endian.h>
#include <string.h>

/* ---- FORMAT: cache-entry --------------------------------------------------
 * The LMDB value: a 20-byte header, little-endian, then the payload
 * (FORMAT: cache-payload, in cache.h), whose length is the rest of the value.
 *   0  u8  format (CACHE_FORMAT)
 *   1  u8  kind (enum cache_kind)
 *   2  u8  rank (enum rank)
 *   3  u8  verdict (enum verdict) in bits 0-2, why (0 to CACHE_WHY_MAX) in bits 3-7
 *   4  u64 expire_at_s (absolute, wall clock)
 *  12  u32 orig_ttl_s
 *  16  u16 n_rdata
 *  18  u16 n_sigs
 *  20  payload
 * LMDB values may be unaligned: every field goes through memcpy. */

static uint16_t get_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }
static void put_u16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put_u32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

bool entry_payload_ok(uint8_t kind, uint16_t n_rdata, uint16_t n_sigs, const uint8_t *data,
		      uint32_t len)
{
	/* FORMAT: cache-payload */
	size_t pos = 0;
	if (kind == CACHE_RRSET) {
		if (n_rdata == 0)
			return false;
		for (uint32_t i = 0; i < (uint32_t)n_rdata + n_sigs; i++) {
			if (len - pos < 2)
				return false;
			size_t rdlen = (size_t)data[pos] << 8 | data[pos + 1];
			pos += 2;
			if (len - pos < rdlen)
				return false;
			pos += rdlen;
		}
		return pos == len;
	}
	if (len == 0)
		return true;
	int name_len = key_name_len(data, len);
	if (name_len < 0)
		return false;
	pos = (size_t)name_len;
	if (len - pos < 2)
		return false;
	size_t rdlen = (size_t)data[pos] << 8 | data[pos + 1];
	return len - pos - 2 == rdlen;
}

bool entry_fields_ok(uint16_t type, uint8_t kind, uint8_t rank, uint8_t verdict, uint8_t why)
{
	if (kind != CACHE_RRSET && kind != CACHE_NODATA && kind != CACHE_NXDOMAIN)
		return false;
	if ((kind == CACHE_NXDOMAIN) != (type == CACHE_TYPE_NXDOMAIN))
		return false;
	if (why > CACHE_WHY_MAX ||
	    (why != 0 && verdict != VERDICT_INSECURE && verdict != VERDICT_BOGUS))
		return false;
	return rank <= RANK_ANSWER && verdict <= VERDICT_INDETERMINATE;
}

int cache_entry_decode(const uint8_t *v, size_t len, uint16_t type, struct cache_entry *out,
		       uint64_t *expire_at_s)
{
	if (len < ENTRY_HDR_LEN || len - ENTRY_HDR_LEN > ENTRY_DATA_MAX || v[0] != CACHE_FORMAT)
		return TERN_EMALFORMED;
	uint32_t data_len = (uint32_t)(len - ENTRY_HDR_LEN);
	*out = (struct cache_entry){
		.kind = v[1],
		.rank = v[2],
		.verdict = v[3] & 7,
		.why = v[3] >> 3,
		.orig_ttl_s = get_u32(v + 12),
		.n_rdata = get_u16(v + 16),
		.n_sigs = get_u16(v + 18),
		.data = data_len ? v + ENTRY_HDR_LEN : NULL,
		.data_len = data_len,
	};
	*expire_at_s = get_u64(v + 4);
	if (!entry_fields_ok(type, out->kind, out->rank, out->verdict, out->why) ||
	    !entry_payload_ok(out->kind, out->n_rdata, out->n_sigs, out->data, data_len))
		return TERN_EMALFORMED;
	return 0;
}

size_t entry_size(const struct cache_entry *e)
{
	return ENTRY_HDR_LEN + (size_t)e->data_len;
}

void entry_encode(uint8_t *out, const struct cache_entry *e, uint64_t expire_at_s)
{
	out[0] = CACHE_FORMAT;
	out[1] = e->kind;
	out[2] = e->rank;
	out[3] = (uint8_t)(e->verdict | e->why << 3); /* put_ok() checked both */
	put_u64(out + 4, expire_at_s);
	put_u32(out + 12, e->ttl_s);
	put_u16(out + 16, e->n_rdata);
	put_u16(out + 18, e->n_sigs);
	if (e->data_len)
		memcpy(out + ENTRY_HDR_LEN, e->data, e->data_len);
}
