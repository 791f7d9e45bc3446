/* proto/wire: bytes <-> DNS messages. A zero-copy reader (struct msg is a view
 * into the caller's buffer) and a writer that builds messages into a caller's
 * buffer. Every length is checked against the bytes left; compression pointers
 * must point strictly backwards; names are at most 255 bytes, labels 63.
 * This file knows no query, no cache, no socket. It never allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_WIRE 255 /* RFC 1035 3.1 */
#define LABEL_MAX 63      /* RFC 1035 3.1 */
#define DNS_HDR_LEN 12

/* header flags (the 16-bit word after the ID) */
#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_AD 0x0020
#define FLAG_CD 0x0010
#define FLAGS_OPCODE(f) (((f) >> 11) & 0xf)
#define FLAGS_RCODE(f) ((f) & 0xf)

#define EDNS_FLAG_DO 0x8000 /* RFC 3225, in the OPT TTL's low 16 bits */

enum rcode {
	RCODE_NOERROR = 0, RCODE_FORMERR = 1, RCODE_SERVFAIL = 2, RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4, RCODE_REFUSED = 5, RCODE_BADVERS = 16, /* extended, RFC 6891 */
};

enum rrtype {
	TYPE_A = 1, TYPE_NS = 2, TYPE_CNAME = 5, TYPE_SOA = 6, TYPE_PTR = 12, TYPE_MX = 15,
	TYPE_TXT = 16, TYPE_AAAA = 28, TYPE_SRV = 33, TYPE_DNAME = 39, TYPE_OPT = 41,
	TYPE_DS = 43, TYPE_RRSIG = 46, TYPE_NSEC = 47, TYPE_DNSKEY = 48, TYPE_NSEC3 = 50,
	TYPE_SVCB = 64, TYPE_HTTPS = 65, TYPE_IXFR = 251, TYPE_AXFR = 252, TYPE_ANY = 255,
};
#define CLASS_IN 1

enum section { SEC_QUESTION = 0, SEC_ANSWER = 1, SEC_AUTHORITY = 2, SEC_ADDITIONAL = 3 };

/* EDNS option codes */
#define EDNS_OPT_COOKIE 10
#define EDNS_OPT_KEEPALIVE 11
#define EDNS_OPT_PADDING 12
#define EDNS_OPT_EDE 15

/* ---- reader: latches the first error; every read after it is a no-op ---- */
struct wire_reader {
	const uint8_t *wire;
	size_t len, pos;
	int err; /* 0 or TERN_EMALFORMED */
};

static inline struct wire_reader wire_reader_init(const uint8_t *wire, size_t len)
{
	struct wire_reader r = { wire, len, 0, 0 };
	return r;
}
uint8_t wire_read_u8(struct wire_reader *r);
uint16_t wire_read_u16(struct wire_reader *r);
uint32_t wire_read_u32(struct wire_reader *r);
/** Pointer to the next @n bytes (borrowed from the buffer), or NULL and the latch. */
const uint8_t *wire_read_bytes(struct wire_reader *r, size_t n);

/* ---- names: uncompressed wire form, at most NAME_MAX_WIRE bytes ---- */

/** Read the possibly compressed name at *@pos in @wire into @out (uncompressed,
 * case preserved) and advance *@pos past the name as it sits in the message.
 * Pointers must point strictly backwards from the label that holds them.
 * Returns the name's length in @out, or TERN_EMALFORMED. */
int name_unpack(const uint8_t *wire, size_t len, size_t *pos, uint8_t out[NAME_MAX_WIRE]);
/** Length of a valid uncompressed name (including the root label). */
size_t name_len(const uint8_t *name);
/** Number of labels, not counting the root ("." has 0). */
int name_labels(const uint8_t *name);
/** Case-insensitive (ASCII) equality of two uncompressed names. */
bool name_equal(const uint8_t *a, const uint8_t *b);
/** True when @child equals @parent or lies below it (case-insensitive). */
bool name_is_under(const uint8_t *child, const uint8_t *parent);
/** The name without its first label (points into @name); NULL for the root. */
const uint8_t *name_parent(const uint8_t *name);
/** The suffix of @name that has @n labels (points into @name); @n <= labels. */
const uint8_t *name_suffix(const uint8_t *name, int n);
/** Lowercase ASCII letters in place. */
void name_lower(uint8_t *name);
/** Canonical ordering (RFC 4034 6.1), negative/0/positive. */
int name_compare(const uint8_t *a, const uint8_t *b);
/** Presentation text ("www.example.com.", "." for the root; \DDD escapes) to wire.
 * Returns the length or TERN_EMALFORMED. For configuration, tests and zone data only. */
int name_from_text(const char *text, uint8_t out[NAME_MAX_WIRE]);
/** Wire to presentation text, NUL-terminated. Returns length or TERN_ESPACE.
 * For tests and operator-facing output, never for logs (privacy). */
int name_to_text(const uint8_t *name, char *out, size_t cap);

/* ---- messages: a parsed view into the caller's buffer ---- */
struct msg_header {
	uint16_t id, flags;
	uint16_t qdcount, ancount, nscount, arcount;
};

struct msg {
	const uint8_t *wire; /* borrowed: the view is valid while the buffer lives */
	uint16_t len;
	struct msg_header hdr;
	uint8_t qname[NAME_MAX_WIRE]; /* uncompressed copy, case preserved; "" if qdcount 0 */
	uint16_t qtype, qclass;
	uint16_t section_at[4]; /* offset of the first RR of each section */
	uint16_t count[4];      /* RRs per section (== header counts) */
	/* EDNS(0) (RFC 6891) */
	bool has_opt;
	uint16_t opt_at;        /* offset of the OPT RR's owner name */
	uint16_t edns_udp_size; /* the OPT class */
	uint8_t edns_ext_rcode, edns_version;
	uint16_t edns_flags;    /* EDNS_FLAG_DO... */
	uint16_t opt_rdata_at, opt_rdlen;
};

/** Parse and check a whole message: header; QDCOUNT 0 or 1 (more is malformed);
 * every RR's owner name, fixed fields and RDLENGTH within bounds; at most one
 * OPT, only in the additional section, with the root owner; no trailing bytes.
 * Fills @m as a view into @wire (borrowed). Returns 0 or TERN_EMALFORMED with
 * @why (static text, may be NULL) saying what was wrong. */
int msg_parse(struct msg *m, const uint8_t *wire, size_t len, const char **why);

/** One resource record, as a view. */
struct rr_view {
	uint16_t owner_at; /* offset of the (possibly compressed) owner name */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdata_at, rdlen;
	uint8_t section;
};

struct rr_iter {
	uint16_t pos;
	uint8_t section;
	uint16_t left;
};

/** Start iterating the RRs of section @s (not SEC_QUESTION). */
void rr_iter_init(const struct msg *m, struct rr_iter *it, enum section s);
/** Next RR of the section (the OPT RR included), or false at the end.
 * Relies on msg_parse() having checked the bounds. */
bool rr_next(const struct msg *m, struct rr_iter *it, struct rr_view *rr);
/** The RR's owner, uncompressed into @out. Returns its length or TERN_EMALFORMED. */
int rr_owner(const struct msg *m, const struct rr_view *rr, uint8_t out[NAME_MAX_WIRE]);
/** RDATA with embedded names decompressed for the types where RFC 3597 4 allows
 * compression (NS, CNAME, SOA, PTR, MX, MB, MD, MF, MG, MR, MINFO) and copied
 * as is otherwise. Writes into @out (capacity @cap). Returns the length,
 * TERN_ESPACE or TERN_EMALFORMED (also for an RDATA whose fixed layout is wrong,
 * e.g. an A record that is not 4 bytes). */
int rr_rdata_unpack(const struct msg *m, const struct rr_view *rr, uint8_t *out, size_t cap);

/** Iterate the options in the OPT RDATA: *@pos starts at 0. Returns false at the
 * end. @data is borrowed from the message. */
bool edns_next_option(const struct msg *m, uint16_t *pos, uint16_t *code,
		      const uint8_t **data, uint16_t *len);

/* ---- writer: builds a message; a record that does not fit is not written ---- */
#define MB_COMPRESS_MAX 32 /* names remembered for compression targets */

struct msg_builder {
	uint8_t *buf;
	size_t cap;   /* bytes the message may use (e.g. the client's UDP size) */
	size_t pos;
	uint16_t count[4];
	uint8_t section; /* the section being written; sections only move forward */
	uint16_t name_at[MB_COMPRESS_MAX]; /* offsets of names already written */
	uint8_t n_names;
};

/** Start a message in @buf of @cap bytes (cap >= DNS_HDR_LEN) with @id and @flags. */
void mb_init(struct msg_builder *b, uint8_t *buf, size_t cap, uint16_t id, uint16_t flags);
/** Change the header flags word. */
void mb_set_flags(struct msg_builder *b, uint16_t flags);
/** Add the question. Returns 0 or TERN_ESPACE. */
int mb_question(struct msg_builder *b, const uint8_t *qname, uint16_t qtype, uint16_t qclass);
/** Add one RR to section @s (>= the current section). The owner name is compressed
 * against names already written; @rdata is uncompressed and written as is.
 * When it does not fit, nothing is written and TERN_ESPACE is returned. */
int mb_rr(struct msg_builder *b, enum section s, const uint8_t *owner, uint16_t type,
	  uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);
/** Bytes an OPT RR with @opts_len bytes of options takes: 11 + opts_len. */
#define MB_OPT_SIZE(opts_len) (11u + (opts_len))
/** Add the OPT RR (RFC 6891): @udp_size in the class, extended rcode (the upper
 * 8 bits of a 12-bit rcode), version 0, @edns_flags, and @opts (already encoded
 * options, @opts_len bytes). Returns 0 or TERN_ESPACE. */
int mb_opt(struct msg_builder *b, uint16_t udp_size, uint8_t ext_rcode, uint16_t edns_flags,
	   const uint8_t *opts, uint16_t opts_len);
/** Write the section counts into the header; returns the message length. */
size_t mb_finish(struct msg_builder *b);
