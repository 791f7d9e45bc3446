/* proto/wire: bytes <-> DNS messages (RFC 1035 4, RFC 6891). msg_parse() checks
 * a whole message once, then the rest of the reader hands out views into the
 * caller's buffer; the writer builds a message in the caller's buffer and
 * compresses owner names. Network bytes are hostile: every length is checked
 * against the bytes left. Nothing here allocates, logs, or knows a query. */
#include "proto/wire.h"

#include <assert.h>
#include <string.h>

#include "base/err.h"

#define PTR_MASK 0xc0        /* RFC 1035 4.1.4: the top two bits mark a pointer */
#define PTR_OFFSET_MAX 0x3fff /* a pointer holds 14 bits of offset */
#define NAME_LABELS_MAX 127  /* 255 bytes / (1 length byte + 1 char), plus the root */
/* Pointers must point strictly backwards, so a chain ends by itself; this bound
 * is belt and braces. A legitimate encoder needs at most one hop per label. */
#define NAME_HOPS_MAX NAME_LABELS_MAX
#define RR_FIXED_LEN 10 /* type, class, TTL, RDLENGTH */

/* RFC 1035 3.3 types whose RDATA may hold compressed names (RFC 3597 4) but that
 * the rest of tern never names, so wire.h does not list them. */
enum {
	TYPE_MD = 3,
	TYPE_MF = 4,
	TYPE_MB = 7,
	TYPE_MG = 8,
	TYPE_MR = 9,
	TYPE_MINFO = 14,
};

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* ASCII only: DNS names are case-insensitive for A-Z alone (RFC 4343 3). */
static inline uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* ---- reader ---- */

/* True when @n more bytes are there; otherwise latch the error. */
static bool reader_has(struct wire_reader *r, size_t n)
{
	if (r->err)
		return false;
	if (r->pos > r->len || n > r->len - r->pos) {
		r->err = TERN_EMALFORMED;
		return false;
	}
	return true;
}

uint8_t wire_read_u8(struct wire_reader *r)
{
	if (!reader_has(r, 1))
		return 0;
	return r->wire[r->pos++];
}

uint16_t wire_read_u16(struct wire_reader *r)
{
	if (!reader_has(r, 2))
		return 0;
	uint16_t v = get16(r->wire + r->pos);
	r->pos += 2;
	return v;
}

uint32_t wire_read_u32(struct wire_reader *r)
{
	if (!reader_has(r, 4))
		return 0;
	uint32_t v = get32(r->wire + r->pos);
	r->pos += 4;
	return v;
}

const uint8_t *wire_read_bytes(struct wire_reader *r, size_t n)
{
	if (!reader_has(r, n))
		return NULL;
	const uint8_t *p = r->wire + r->pos;
	r->pos += n;
	return p;
}

/* ---- names ---- */

/* name_unpack() with @out optional (NULL: check and skip only). */
static int unpack_name(const uint8_t *wire, size_t len, size_t *pos, uint8_t *out)
{
	size_t p = *pos;
	size_t run_start = p; /* where the labels being followed begin */
	size_t end = 0;       /* where the name stops in the message, once known */
	size_t n = 0;         /* bytes written to @out */
	int hops = 0;

	for (;;) {
		if (p >= len)
			return TERN_EMALFORMED;
		uint8_t c = wire[p];
		if ((c & PTR_MASK) == PTR_MASK) {
			if (len - p < 2)
				return TERN_EMALFORMED;
			size_t target = (size_t)(c & ~PTR_MASK) << 8 | wire[p + 1];
			/* Strictly below the start of the current run of labels (so
			 * below the pointer too): each hop moves towards offset 0 and
			 * no loop can form, however the pointers are arranged (as
			 * Knot DNS does). A name never lives in the header. */
			if (target >= run_start || target < DNS_HDR_LEN)
				return TERN_EMALFORMED;
			if (++hops > NAME_HOPS_MAX)
				return TERN_EMALFORMED;
			if (!end)
				end = p + 2;
			p = target;
			run_start = target;
			continue;
		}
		/* 0x40 (RFC 6891 extended label types, none in use) and 0x80
		 * (reserved; RFC 2673 bit labels are historic): malformed. */
		if (c & PTR_MASK)
			return TERN_EMALFORMED;
		if (c == 0) {
			if (out)
				out[n] = 0;
			n++;
			p++;
			break;
		}
		/* RFC 1035 3.1: 255 bytes in all, this label and the root included. */
		if (n + 1 + c + 1 > NAME_MAX_WIRE)
			return TERN_EMALFORMED;
		if (c > len - p - 1)
			return TERN_EMALFORMED;
		if (out)
			memcpy(out + n, wire + p, (size_t)c + 1);
		n += (size_t)c + 1;
		p += (size_t)c + 1;
	}
	*pos = end ? end : p;
	return (int)n;
}

int name_unpack(const uint8_t *wire, size_t len, size_t *pos, uint8_t out[NAME_MAX_WIRE])
{
	return unpack_name(wire, len, pos, out);
}

/* Length of an uncompressed name from a caller we do not fully trust (the
 * writer's input), reading at most NAME_MAX_WIRE bytes; or TERN_EMALFORMED. */
static int name_check(const uint8_t *name)
{
	size_t n = 0;
	while (n < NAME_MAX_WIRE) {
		uint8_t c = name[n];
		if (c == 0)
			return (int)n + 1;
		if (c > LABEL_MAX || n + 1 + c + 1 > NAME_MAX_WIRE)
			return TERN_EMALFORMED;
		n += (size_t)c + 1;
	}
	return TERN_EMALFORMED;
}

size_t name_len(const uint8_t *name)
{
	size_t n = 0;
	while (name[n] != 0 && n < NAME_MAX_WIRE)
		n += (size_t)name[n] + 1;
	return n + 1;
}

int name_labels(const uint8_t *name)
{
	int labels = 0;
	while (*name != 0 && labels < NAME_LABELS_MAX) {
		name += *name + 1;
		labels++;
	}
	return labels;
}

bool name_equal(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		uint8_t l = *a;
		if (l != *b)
			return false;
		if (l == 0)
			return true;
		for (uint8_t i = 1; i <= l; i++)
			if (lower(a[i]) != lower(b[i]))
				return false;
		a += l + 1;
		b += l + 1;
	}
}

bool name_is_under(const uint8_t *child, const uint8_t *parent)
{
	int lc = name_labels(child), lp = name_labels(parent);
	if (lc < lp)
		return false;
	return name_equal(name_suffix(child, lp), parent);
}

const uint8_t *name_parent(const uint8_t *name)
{
	if (*name == 0)
		return NULL;
	return name + *name + 1;
}

const uint8_t *name_suffix(const uint8_t *name, int n)
{
	for (int skip = name_labels(name) - n; skip > 0 && *name != 0; skip--)
		name += *name + 1;
	return name;
}

void name_lower(uint8_t *name)
{
	while (*name != 0) {
		uint8_t l = *name;
		for (uint8_t i = 1; i <= l; i++)
			name[i] = lower(name[i]);
		name += l + 1;
	}
}

/* Pointers to each label of @name, leftmost first; returns how many. */
static int label_starts(const uint8_t *name, const uint8_t *at[NAME_LABELS_MAX])
{
	int n = 0;
	while (*name != 0 && n < NAME_LABELS_MAX) {
		at[n++] = name;
		name += *name + 1;
	}
	return n;
}

/* RFC 4034 6.1: labels compare as lowercase octet strings; when one is a
 * prefix of the other, the shorter sorts first. */
static int label_compare(const uint8_t *a, const uint8_t *b)
{
	uint8_t la = *a, lb = *b;
	uint8_t n = la < lb ? la : lb;
	for (uint8_t i = 1; i <= n; i++) {
		int d = lower(a[i]) - lower(b[i]);
		if (d)
			return d;
	}
	return la - lb;
}

int name_compare(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[NAME_LABELS_MAX], *lb[NAME_LABELS_MAX];
	int na = label_starts(a, la), nb = label_starts(b, lb);

	/* RFC 4034 6.1: most significant (rightmost) label first; a name that
	 * runs out of labels first sorts first. */
	while (na > 0 && nb > 0) {
		int d = label_compare(la[--na], lb[--nb]);
		if (d)
			return d;
	}
	return na - nb;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int name_from_text(const char *text, uint8_t out[NAME_MAX_WIRE])
{
	size_t at = 0;  /* offset of the current label's length byte */
	size_t lab = 0; /* bytes in the current label so far */
	const char *s = text;

	if (!s || !*s)
		return TERN_EMALFORMED;
	if (strcmp(s, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*s) {
		if (*s == '.') {
			if (lab == 0) /* ".x", "x..y": empty labels are not names */
				return TERN_EMALFORMED;
			out[at] = (uint8_t)lab;
			at += lab + 1;
			lab = 0;
			s++;
			continue;
		}
		unsigned c;
		if (*s == '\\') { /* RFC 1035 5.1: \DDD (decimal) or \X (X literally) */
			s++;
			if (is_digit(s[0])) {
				if (!is_digit(s[1]) || !is_digit(s[2]))
					return TERN_EMALFORMED;
				c = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
				    (unsigned)(s[2] - '0');
				if (c > 255)
					return TERN_EMALFORMED;
				s += 3;
			} else if (*s) {
				c = (uint8_t)*s++;
			} else {
				return TERN_EMALFORMED;
			}
		} else {
			c = (uint8_t)*s++;
		}
		if (lab == LABEL_MAX)
			return TERN_EMALFORMED;
		/* this byte at at+1+lab, then at least the root byte after it */
		if (at + 1 + lab + 1 >= NAME_MAX_WIRE)
			return TERN_EMALFORMED;
		out[at + 1 + lab] = (uint8_t)c;
		lab++;
	}
	if (lab) { /* no trailing dot: the name is absolute all the same */
		out[at] = (uint8_t)lab;
		at += lab + 1;
	}
	out[at] = 0;
	return (int)at + 1;
}

/* Append @n bytes of @s to @out, keeping room for the final NUL. */
static bool text_put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (cap - *o <= n)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	return true;
}

int name_to_text(const uint8_t *name, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return TERN_ESPACE;
	if (*name == 0) {
		if (!text_put(out, cap, &o, ".", 1))
			return TERN_ESPACE;
	}
	for (int labels = 0; *name != 0 && labels < NAME_LABELS_MAX; labels++) {
		uint8_t l = *name;
		for (uint8_t i = 1; i <= l; i++) {
			uint8_t c = name[i];
			char esc[5];
			size_t n;
			/* RFC 1035 5.1: what a zone file would read otherwise */
			if (c <= ' ' || c >= 0x7f) {
				esc[0] = '\\';
				esc[1] = (char)('0' + c / 100);
				esc[2] = (char)('0' + c / 10 % 10);
				esc[3] = (char)('0' + c % 10);
				n = 4;
			} else if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' ||
				   c == ')') {
				esc[0] = '\\';
				esc[1] = (char)c;
				n = 2;
			} else {
				esc[0] = (char)c;
				n = 1;
			}
			if (!text_put(out, cap, &o, esc, n))
				return TERN_ESPACE;
		}
		if (!text_put(out, cap, &o, ".", 1))
			return TERN_ESPACE;
		name += l + 1;
	}
	out[o] = '\0';
	return (int)o;
}

/* ---- messages ---- */

static int parse_fail(const char **why, const char *what)
{
	*why = what;
	return TERN_EMALFORMED;
}

/* RFC 6891 6.1.2: the options must tile the OPT RDATA exactly. */
static bool opt_options_ok(const uint8_t *rd, size_t len)
{
	size_t p = 0;
	while (p < len) {
		if (len - p < 4)
			return false;
		size_t optlen = get16(rd + p + 2);
		if (optlen > len - p - 4)
			return false;
		p += 4 + optlen;
	}
	return true;
}

int msg_parse(struct msg *m, const uint8_t *wire, size_t len, const char **why)
{
	const char *why_unused;
	if (!why)
		why = &why_unused;
	*why = NULL;
	memset(m, 0, sizeof(*m));

	if (len < DNS_HDR_LEN)
		return parse_fail(why, "short header");
	if (len > UINT16_MAX) /* the most TCP can frame (RFC 1035 4.2.2) */
		return parse_fail(why, "too long");
	m->wire = wire;
	m->len = (uint16_t)len;

	struct wire_reader r = wire_reader_init(wire, len);
	m->hdr.id = wire_read_u16(&r);
	m->hdr.flags = wire_read_u16(&r);
	m->hdr.qdcount = wire_read_u16(&r);
	m->hdr.ancount = wire_read_u16(&r);
	m->hdr.nscount = wire_read_u16(&r);
	m->hdr.arcount = wire_read_u16(&r);
	m->count[SEC_QUESTION] = m->hdr.qdcount;
	m->count[SEC_ANSWER] = m->hdr.ancount;
	m->count[SEC_AUTHORITY] = m->hdr.nscount;
	m->count[SEC_ADDITIONAL] = m->hdr.arcount;

	/* RFC 9619: QDCOUNT is at most one; more is FORMERR */
	if (m->hdr.qdcount > 1)
		return parse_fail(why, "qdcount");
	size_t pos = DNS_HDR_LEN;
	m->section_at[SEC_QUESTION] = (uint16_t)pos;
	if (m->hdr.qdcount == 1) {
		if (unpack_name(wire, len, &pos, m->qname) < 0)
			return parse_fail(why, "question name");
		if (len - pos < 4)
			return parse_fail(why, "question truncated");
		m->qtype = get16(wire + pos);
		m->qclass = get16(wire + pos + 2);
		pos += 4;
	}

	for (int s = SEC_ANSWER; s <= SEC_ADDITIONAL; s++) {
		m->section_at[s] = (uint16_t)pos;
		for (unsigned i = 0; i < m->count[s]; i++) {
			size_t owner_at = pos;
			int owner_len = unpack_name(wire, len, &pos, NULL);
			if (owner_len < 0)
				return parse_fail(why, "owner name");
			if (len - pos < RR_FIXED_LEN)
				return parse_fail(why, "rr truncated");
			uint16_t type = get16(wire + pos);
			uint16_t rclass = get16(wire + pos + 2);
			uint32_t ttl = get32(wire + pos + 4);
			uint16_t rdlen = get16(wire + pos + 8);
			pos += RR_FIXED_LEN;
			if (rdlen > len - pos)
				return parse_fail(why, "rdlength");
			if (type == TYPE_OPT) {
				/* RFC 6891 6.1.1: one OPT at most, in the additional
				 * section, owned by the root. */
				if (s != SEC_ADDITIONAL)
					return parse_fail(why, "opt outside additional");
				if (m->has_opt)
					return parse_fail(why, "duplicate opt");
				if (owner_len != 1)
					return parse_fail(why, "opt owner not root");
				if (!opt_options_ok(wire + pos, rdlen))
					return parse_fail(why, "opt options");
				m->has_opt = true;
				m->opt_at = (uint16_t)owner_at;
				m->edns_udp_size = rclass;
				m->edns_ext_rcode = (uint8_t)(ttl >> 24);
				m->edns_version = (uint8_t)(ttl >> 16);
				m->edns_flags = (uint16_t)ttl;
				m->opt_rdata_at = (uint16_t)pos;
				m->opt_rdlen = rdlen;
			}
			pos += rdlen;
		}
	}
	if (pos != len)
		return parse_fail(why, "trailing bytes");
	return 0;
}

void rr_iter_init(const struct msg *m, struct rr_iter *it, enum section s)
{
	it->section = (uint8_t)s;
	if (s <= SEC_QUESTION || s > SEC_ADDITIONAL) {
		it->pos = 0;
		it->left = 0;
		return;
	}
	it->pos = m->section_at[s];
	it->left = m->count[s];
}

bool rr_next(const struct msg *m, struct rr_iter *it, struct rr_view *rr)
{
	if (it->left == 0)
		return false;
	/* msg_parse() checked all this; checking again costs little and keeps a
	 * misused iterator inside the buffer. */
	size_t pos = it->pos;
	if (unpack_name(m->wire, m->len, &pos, NULL) < 0 || m->len - pos < RR_FIXED_LEN) {
		it->left = 0;
		return false;
	}
	const uint8_t *f = m->wire + pos;
	uint16_t rdlen = get16(f + 8);
	if (rdlen > m->len - pos - RR_FIXED_LEN) {
		it->left = 0;
		return false;
	}
	rr->owner_at = it->pos;
	rr->type = get16(f);
	rr->rclass = get16(f + 2);
	rr->ttl = get32(f + 4);
	rr->rdata_at = (uint16_t)(pos + RR_FIXED_LEN);
	rr->rdlen = rdlen;
	rr->section = it->section;
	it->pos = (uint16_t)(pos + RR_FIXED_LEN + rdlen);
	it->left--;
	return true;
}

int rr_owner(const struct msg *m, const struct rr_view *rr, uint8_t out[NAME_MAX_WIRE])
{
	size_t pos = rr->owner_at;
	return unpack_name(m->wire, m->len, &pos, out);
}

int rr_rdata_unpack(const struct msg *m, const struct rr_view *rr, uint8_t *out, size_t cap)
{
	size_t p = rr->rdata_at;
	size_t end = p + rr->rdlen;
	size_t prefix = 0, suffix = 0; /* fixed bytes before and after the names */
	int n_names = 0;

	if (end > m->len)
		return TERN_EMALFORMED;
	switch (rr->type) {
	case TYPE_NS:
	case TYPE_MD:
	case TYPE_MF:
	case TYPE_CNAME:
	case TYPE_MB:
	case TYPE_MG:
	case TYPE_MR:
	case TYPE_PTR:
		n_names = 1;
		break;
	case TYPE_SOA: /* MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM */
		n_names = 2;
		suffix = 20;
		break;
	case TYPE_MINFO: /* RMAILBX EMAILBX */
		n_names = 2;
		break;
	case TYPE_MX: /* PREFERENCE EXCHANGE */
		prefix = 2;
		n_names = 1;
		break;
	case TYPE_A: /* RFC 1035 3.4.1; the layout is class IN's only */
		if (rr->rclass == CLASS_IN && rr->rdlen != 4)
			return TERN_EMALFORMED;
		break;
	case TYPE_AAAA: /* RFC 3596 2.2 */
		if (rr->rclass == CLASS_IN && rr->rdlen != 16)
			return TERN_EMALFORMED;
		break;
	default:
		break;
	}

	if (n_names == 0) { /* RFC 3597 4: no compression anywhere else */
		if (rr->rdlen > cap)
			return TERN_ESPACE;
		if (rr->rdlen)
			memcpy(out, m->wire + p, rr->rdlen);
		return rr->rdlen;
	}

	size_t o = 0;
	if (end - p < prefix)
		return TERN_EMALFORMED;
	if (cap < prefix)
		return TERN_ESPACE;
	if (prefix)
		memcpy(out, m->wire + p, prefix);
	o += prefix;
	p += prefix;
	for (int i = 0; i < n_names; i++) {
		uint8_t name[NAME_MAX_WIRE];
		/* Pointers may reach anywhere earlier in the message, but the
		 * name's own bytes must stay inside this RDATA. */
		int n = unpack_name(m->wire, m->len, &p, name);
		if (n < 0 || p > end)
			return TERN_EMALFORMED;
		if ((size_t)n > cap - o)
			return TERN_ESPACE;
		memcpy(out + o, name, (size_t)n);
		o += (size_t)n;
	}
	if (end - p != suffix) /* the names and fixed fields fill RDLENGTH exactly */
		return TERN_EMALFORMED;
	if (suffix > cap - o)
		return TERN_ESPACE;
	if (suffix)
		memcpy(out + o, m->wire + p, suffix);
	o += suffix;
	return (int)o;
}

bool edns_next_option(const struct msg *m, uint16_t *pos, uint16_t *code,
		      const uint8_t **data, uint16_t *len)
{
	if (!m->has_opt)
		return false;
	size_t p = *pos, n = m->opt_rdlen;
	if (p > n || n - p < 4)
		return false;
	const uint8_t *rd = m->wire + m->opt_rdata_at;
	uint16_t optlen = get16(rd + p + 2);
	if (optlen > n - p - 4)
		return false;
	*code = get16(rd + p);
	*len = optlen;
	*data = rd + p + 4;
	*pos = (uint16_t)(p + 4 + optlen);
	return true;
}

/* ---- writer ---- */

void mb_init(struct msg_builder *b, uint8_t *buf, size_t cap, uint16_t id, uint16_t flags)
{
	assert(cap >= DNS_HDR_LEN);
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->section = SEC_QUESTION;
	if (cap < DNS_HDR_LEN) { /* no room even for a header: every add fails */
		b->cap = 0;
		b->pos = 0;
		return;
	}
	/* The message length must fit a TCP length prefix and uint16 offsets. */
	b->cap = cap > UINT16_MAX ? UINT16_MAX : cap;
	b->pos = DNS_HDR_LEN;
	put16(buf, id);
	put16(buf + 2, flags);
	memset(buf + 4, 0, DNS_HDR_LEN - 4);
}

void mb_set_flags(struct msg_builder *b, uint16_t flags)
{
	if (b->cap >= DNS_HDR_LEN)
		put16(b->buf + 2, flags);
}

/* Offsets in our own output of each label of the name at @off, leftmost
 * first, following our own pointers (which point backwards, so this ends). */
static int label_offsets(const uint8_t *buf, size_t off, uint16_t at[NAME_LABELS_MAX])
{
	int n = 0;
	for (int steps = 0; steps < 2 * NAME_LABELS_MAX; steps++) {
		uint8_t c = buf[off];
		if ((c & PTR_MASK) == PTR_MASK) {
			off = (size_t)(c & ~PTR_MASK) << 8 | buf[off + 1];
			continue;
		}
		if (c == 0 || n == NAME_LABELS_MAX)
			break;
		at[n++] = (uint16_t)off;
		off += (size_t)c + 1;
	}
	return n;
}

static bool label_equal(const uint8_t *a, const uint8_t *b)
{
	if (*a != *b)
		return false;
	for (uint8_t i = 1; i <= *a; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* How to write @name: its first @literal bytes as they are, then a pointer to
 * @ptr (when @ptr != 0) or nothing more (the root byte is in @literal). */
struct name_plan {
	size_t literal;
	uint16_t ptr;
};

/* Find the longest suffix of @name already in the message. Each remembered
 * name is compared label by label from the right, so the work per name is
 * linear even when a hostile owner almost matches everywhere. Any place a
 * suffix is spelled, through pointers or not, is a valid target. */
static struct name_plan plan_name(const struct msg_builder *b, const uint8_t *name, size_t len)
{
	struct name_plan plan = { len, 0 };
	const uint8_t *mine[NAME_LABELS_MAX];
	uint16_t theirs[NAME_LABELS_MAX];
	int want = label_starts(name, mine);
	int best = 0;

	for (unsigned i = 0; i < b->n_names && best < want; i++) {
		int n = label_offsets(b->buf, b->name_at[i], theirs);
		int k = 0; /* labels in common, from the right */
		while (k < want && k < n &&
		       label_equal(b->buf + theirs[n - 1 - k], mine[want - 1 - k]))
			k++;
		/* RFC 1035 4.1.4: a pointer holds 14 bits of offset */
		while (k > best && theirs[n - k] > PTR_OFFSET_MAX)
			k--;
		if (k > best) {
			best = k;
			plan.ptr = theirs[n - k];
		}
	}
	if (best)
		plan.literal = (size_t)(mine[want - best] - name);
	return plan;
}

static size_t plan_size(struct name_plan plan)
{
	return plan.literal + (plan.ptr ? 2 : 0);
}

static void write_name(struct msg_builder *b, const uint8_t *name, struct name_plan plan)
{
	size_t start = b->pos;
	memcpy(b->buf + b->pos, name, plan.literal);
	b->pos += plan.literal;
	if (plan.ptr) {
		put16(b->buf + b->pos, (uint16_t)(plan.ptr | PTR_MASK << 8));
		b->pos += 2;
	}
	/* Remember names that add labels to the message; a bare pointer or the
	 * root adds nothing to point at. */
	bool adds_labels = plan.literal > (plan.ptr ? 0u : 1u);
	if (adds_labels && start <= PTR_OFFSET_MAX && b->n_names < MB_COMPRESS_MAX)
		b->name_at[b->n_names++] = (uint16_t)start;
}

int mb_question(struct msg_builder *b, const uint8_t *qname, uint16_t qtype, uint16_t qclass)
{
	if (b->section != SEC_QUESTION || b->count[SEC_QUESTION] != 0)
		return TERN_EMALFORMED; /* one question, before any RR */
	int len = name_check(qname);
	if (len < 0)
		return TERN_EMALFORMED;
	struct name_plan plan = plan_name(b, qname, (size_t)len);
	if (plan_size(plan) + 4 > b->cap - b->pos)
		return TERN_ESPACE;
	write_name(b, qname, plan);
	put16(b->buf + b->pos, qtype);
	put16(b->buf + b->pos + 2, qclass);
	b->pos += 4;
	b->count[SEC_QUESTION] = 1;
	return 0;
}

int mb_rr(struct msg_builder *b, enum section s, const uint8_t *owner, uint16_t type,
	  uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	if (s <= SEC_QUESTION || s > SEC_ADDITIONAL || s < b->section)
		return TERN_EMALFORMED; /* sections only move forward */
	int len = name_check(owner);
	if (len < 0)
		return TERN_EMALFORMED;
	struct name_plan plan = plan_name(b, owner, (size_t)len);
	/* Check the whole record before writing any of it: a record that does
	 * not fit leaves the message as it was. */
	if (plan_size(plan) + RR_FIXED_LEN + rdlen > b->cap - b->pos ||
	    b->count[s] == UINT16_MAX)
		return TERN_ESPACE;
	write_name(b, owner, plan);
	uint8_t *f = b->buf + b->pos;
	put16(f, type);
	put16(f + 2, rclass);
	put32(f + 4, ttl);
	put16(f + 8, rdlen);
	if (rdlen)
		memcpy(f + RR_FIXED_LEN, rdata, rdlen);
	b->pos += RR_FIXED_LEN + (size_t)rdlen;
	b->count[s]++;
	b->section = (uint8_t)s;
	return 0;
}

int mb_opt(struct msg_builder *b, uint16_t udp_size, uint8_t ext_rcode, uint16_t edns_flags,
	   const uint8_t *opts, uint16_t opts_len)
{
	static const uint8_t root[1] = { 0 };
	/* RFC 6891 6.1.3: TTL = extended rcode, version (0), flags */
	uint32_t ttl = (uint32_t)ext_rcode << 24 | edns_flags;
	return mb_rr(b, SEC_ADDITIONAL, root, TYPE_OPT, udp_size, ttl, opts, opts_len);
}

size_t mb_finish(struct msg_builder *b)
{
	if (b->cap < DNS_HDR_LEN)
		return 0;
	for (int s = SEC_QUESTION; s <= SEC_ADDITIONAL; s++)
		put16(b->buf + 4 + 2 * s, b->count[s]);
	return b->pos;
}
