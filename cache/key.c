/* cache/key: (owner name, type) -> LMDB key. The encoding makes LMDB's byte order
 * the DNSSEC canonical name order (RFC 4034 6.1), so a zone and everything below
 * it are one contiguous key range, and the closest enclosing name is one ordered
 * lookup away. Pure functions: no LMDB, no I/O. */
#include "cache/key.h"
#include "base/err.h"

#include <endian.h>
#include <string.h>

#define KEY_LABELS_MAX 128 /* 255 bytes hold at most 127 one-byte labels and the root */

/* FORMAT: cache-key
 * key = label_n SEP ... label_2 SEP label_1 SEP END type
 * for the name label_1.label_2...label_n. (root last), with
 *   - the labels in reversed order (the TLD first), ASCII-lowercased (RFC 4343);
 *   - SEP and END both the byte 0x00;
 *   - the label bytes 0x00 and 0x01 escaped as 0x01 0x01 and 0x01 0x02, so that
 *     no byte inside a label is 0x00 and the escape keeps the bytes' order;
 *   - type 2 bytes big-endian.
 * Why this sorts the way the cache needs:
 *   - every key at or below the zone Z starts with Z's labels and their SEPs
 *     (the "subtree prefix"); a sibling that merely starts with the same bytes
 *     ("xexample" next to "example") differs before the SEP, so it is outside;
 *   - Z's own entries continue with END (0x00), its descendants with a label
 *     byte (never 0x00): Z sorts first, then all of its subtree, contiguously;
 *   - a label that is a prefix of another sorts first (SEP is the lowest byte),
 *     which with the order-keeping escape is exactly RFC 4034 6.1.
 * The root is the empty prefix; its own entries are END type. */
#define KEY_SEP 0x00
#define KEY_END 0x00
#define KEY_ESC 0x01

int key_name_len(const uint8_t *name, size_t avail)
{
	if (avail > KEY_NAME_MAX)
		avail = KEY_NAME_MAX;
	size_t pos = 0;
	while (pos < avail) {
		uint8_t len = name[pos];
		if (len == 0)
			return (int)pos + 1;
		/* catches 0xc0 (a compression pointer) and 0x40 (RFC 6891 extended labels) */
		if (len > KEY_LABEL_MAX)
			return TERN_EMALFORMED;
		pos += 1 + (size_t)len;
	}
	return TERN_EMALFORMED;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* FORMAT: cache-key. encode_labels() for a name with label bytes 0x00 or 0x01,
 * which are escaped: byte by byte. */
static int encode_labels_escaped(uint8_t out[KEY_MAX], const uint8_t *name, const uint8_t *at,
				 int n_labels, size_t *domain_len)
{
	size_t w = 0;
	int n_done = 0;
	*domain_len = 0;
	while (n_labels-- > 0) {
		const uint8_t *label = name + at[n_labels];
		for (int i = 1; i <= label[0]; i++) {
			uint8_t c = lower(label[i]);
			if (c <= KEY_ESC) {
				out[w++] = KEY_ESC;
				c = (uint8_t)(c + 1);
			}
			out[w++] = c;
		}
		out[w++] = KEY_SEP;
		if (++n_done <= 2)
			*domain_len = w;
	}
	return (int)w;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The 8 bytes of @x ASCII-lowercased, and whether one of them is 0x00 or 0x01
 * (which the key escapes). Word at a time: this is on every lookup's path. */
static uint64_t lower8(uint64_t x, bool *has_low)
{
	uint64_t seven = x & ~HIGHS;
	uint64_t above_z = seven + (0x7f - 'Z') * ONES;  /* high bit: byte > 'Z' */
	uint64_t from_a = seven + (0x80 - 'A') * ONES;   /* high bit: byte >= 'A' */
	uint64_t upper = ~x & from_a & ~above_z & HIGHS; /* ASCII 'A'..'Z' */
	*has_low = ((x - 2 * ONES) & ~x & HIGHS) != 0;  /* some byte < 2 */
	return x | upper >> 2;                            /* 0x80 >> 2 == 'a' - 'A' */
}

/* FORMAT: cache-key. Write the labels of @name reversed, each with its SEP,
 * and set *@domain_len to the length of the first two (key_domain_len()).
 * Returns the bytes written, or TERN_EMALFORMED. */
static int encode_labels(uint8_t out[KEY_MAX], const uint8_t *name, size_t *domain_len)
{
	uint8_t at[KEY_LABELS_MAX];
	int n_labels = 0;
	/* the labels' offsets, checked as key_name_len() does */
	size_t pos = 0;
	for (uint8_t len; (len = name[pos]) != 0; pos += 1 + (size_t)len) {
		/* catches 0xc0 (a compression pointer) and 0x40 (RFC 6891 extended labels) */
		if (len > KEY_LABEL_MAX || pos + 1 + len >= KEY_NAME_MAX)
			return TERN_EMALFORMED;
		at[n_labels++] = (uint8_t)pos;
	}
	size_t name_len = pos + 1;

	size_t w = 0;
	*domain_len = 0;
	for (int l = n_labels - 1; l >= 0; l--) {
		const uint8_t *label = name + at[l] + 1;
		size_t len = label[-1], i = 0;
		bool has_low = false;
		/* whole words while they lie within the name; the bytes past the
		 * label are written over next */
		for (; i < len && at[l] + 1 + i + 8 <= name_len; i += 8) {
			uint64_t x, past = 0;
			bool low;
			memcpy(&x, label + i, 8);
			x = le64toh(x); /* the first byte lowest */
			if (len - i < 8)
				past = ~0ULL << (8 * (len - i));
			x = lower8(x | (past & HIGHS), &low) & ~past;
			has_low |= low;
			x = htole64(x);
			memcpy(out + w + i, &x, 8);
		}
		for (; i < len; i++) {
			uint8_t c = label[i];
			has_low |= c <= KEY_ESC;
			out[w + i] = lower(c);
		}
		if (has_low)
			return encode_labels_escaped(out, name, at, n_labels, domain_len);
		w += len;
		out[w++] = KEY_SEP;
		if (l == n_labels - 2 || n_labels == 1)
			*domain_len = w;
	}
	return (int)w;
}

int key_encode(uint8_t out[KEY_MAX], const uint8_t *name, uint16_t type)
{
	size_t domain_len;
	int w = encode_labels(out, name, &domain_len);
	if (w < 0)
		return w;
	/* FORMAT: cache-key */
	out[w++] = KEY_END;
	out[w++] = (uint8_t)(type >> 8);
	out[w++] = (uint8_t)type;
	return w;
}

int key_prefix(uint8_t out[KEY_MAX], const uint8_t *name, bool subtree)
{
	size_t domain_len;
	int w = encode_labels(out, name, &domain_len);
	if (w < 0)
		return w;
	if (!subtree)
		out[w++] = KEY_END; /* FORMAT: cache-key */
	return w;
}

size_t key_domain_len(const uint8_t *key, size_t len)
{
	size_t pos = 0;
	/* FORMAT: cache-key: a label starts with a non-zero byte; END is zero */
	for (int n = 0; n < 2 && pos < len && key[pos] != KEY_END; n++) {
		const uint8_t *sep = memchr(key + pos, KEY_SEP, len - pos);
		if (!sep)
			break;
		pos = (size_t)(sep - key) + 1;
	}
	return pos;
}

unsigned key_depth(const uint8_t *labels, size_t len)
{
	unsigned n = 0;
	for (size_t i = 0; i < len; i++)
		n += labels[i] == KEY_SEP; /* FORMAT: cache-key: no label byte is 0 */
	return n;
}

size_t key_parent_len(const uint8_t *labels, size_t len)
{
	/* the last byte is the last label's SEP; the one before it ends the parent */
	size_t i = len > 0 ? len - 1 : 0;
	while (i > 0 && labels[i - 1] != KEY_SEP)
		i--;
	return i;
}

size_t key_common_len(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	size_t n = a_len < b_len ? a_len : b_len, p = 0;
	while (p < n && a[p] == b[p])
		p++;
	/* back to the end of the last label both hold whole */
	while (p > 0 && a[p - 1] != KEY_SEP)
		p--;
	return p;
}

int key_locate(uint8_t out[KEY_DB_MAX], const uint8_t *name, uint16_t type, size_t *domain_len)
{
	int w = encode_labels(out + 1, name, domain_len);
	if (w < 0)
		return w;
	/* FORMAT: cache-key */
	w++;
	out[w++] = KEY_END;
	if (type == KEY_TYPE_NS) {
		out[0] = KEY_SPACE_CUTS;
		return w;
	}
	out[0] = KEY_SPACE_RRSETS;
	out[w++] = (uint8_t)(type >> 8);
	out[w++] = (uint8_t)type;
	return w;
}

bool key_type(const uint8_t *key, size_t len, uint16_t *type)
{
	/* FORMAT: cache-key: cut keys end with END; the others with the type */
	if (len >= 2 && key[0] == KEY_SPACE_CUTS && key[len - 1] == KEY_END) {
		*type = KEY_TYPE_NS;
		return true;
	}
	if (len < 4 || key[0] != KEY_SPACE_RRSETS)
		return false;
	*type = (uint16_t)(key[len - 2] << 8 | key[len - 1]);
	return true;
}

int key_decode(const uint8_t *key, size_t len, uint8_t out[KEY_NAME_MAX], uint16_t *type)
{
	/* FORMAT: cache-key: labels from the root down, each ended by SEP, with
	 * 0x00 and 0x01 escaped as ESC+1, ESC+2; then END and the type. The
	 * labels come out reversed, so they are written from the end of a
	 * scratch buffer and moved into place. */
	uint8_t tmp[KEY_NAME_MAX];
	size_t w = sizeof(tmp) - 1;
	tmp[w] = 0; /* the root label */
	size_t pos = 0;
	while (pos < len && key[pos] != KEY_END) {
		uint8_t label[KEY_LABEL_MAX];
		size_t n = 0;
		while (pos < len && key[pos] != KEY_SEP) {
			uint8_t c = key[pos++];
			if (c == KEY_ESC) {
				if (pos >= len || key[pos] < 1 || key[pos] > 2)
					return TERN_EMALFORMED;
				c = (uint8_t)(key[pos++] - 1);
			}
			if (n == KEY_LABEL_MAX)
				return TERN_EMALFORMED;
			label[n++] = c;
		}
		if (pos >= len || n == 0 || w < n + 1)
			return TERN_EMALFORMED;
		pos++; /* SEP */
		w -= n;
		memcpy(tmp + w, label, n);
		tmp[--w] = (uint8_t)n;
	}
	if (pos + 3 != len)
		return TERN_EMALFORMED; /* END and two bytes of type */
	*type = (uint16_t)(key[pos + 1] << 8 | key[pos + 2]);
	size_t name_len = sizeof(tmp) - w;
	memcpy(out, tmp + w, name_len);
	return (int)name_len;
}
