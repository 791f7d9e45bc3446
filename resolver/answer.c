/* resolver/answer: reply assembly; see answer.h. */
#include "resolver/answer.h"

#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "resolver/config.h"
#include "resolver/request.h"
#include "resolver/worker.h"


static int add_rrsets(struct msg_builder *b, enum section sec, const struct rrset *list, bool sigs)
{
	for (const struct rrset *s = list; s; s = s->next) {
		/* RFC 2181 9: an RRset is sent whole or not at all */
		size_t mark_pos = b->pos;
		uint16_t mark_count = b->count[sec];
		uint8_t mark_names = b->n_names;
		uint8_t mark_section = b->section;
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		bool full = false;
		while (!full && rrset_rdata_next(s, &off, &rd, &len))
			full = mb_rr(b, sec, s->owner, s->type, CLASS_IN, s->ttl_s, rd, len) < 0;
		if (sigs && s->n_sigs) {
			/* RFC 4035 3.1.1: with DO, the RRSIGs go with their RRset */
			struct rrset v = rrset_sigs_view(s);
			off = 0;
			while (!full && rrset_rdata_next(&v, &off, &rd, &len))
				full = mb_rr(b, sec, s->owner, TYPE_RRSIG, CLASS_IN, s->ttl_s, rd, len) < 0;
		}
		if (full) {
			b->pos = mark_pos;
			b->count[sec] = mark_count;
			b->n_names = mark_names;
			b->section = mark_section;
			return TERN_ESPACE;
		}
	}
	return 0;
}

static uint16_t encode_ede(uint8_t *out, uint16_t info, const char *text)
{
	size_t tlen = text ? strnlen(text, EDE_TEXT_MAX) : 0;
	uint16_t olen = (uint16_t)(2 + tlen);
	out[0] = EDNS_OPT_EDE >> 8;
	out[1] = EDNS_OPT_EDE & 0xff;
	out[2] = (uint8_t)(olen >> 8);
	out[3] = (uint8_t)olen;
	out[4] = (uint8_t)(info >> 8);
	out[5] = (uint8_t)info;
	if (tlen)
		memcpy(out + 6, text, tlen);
	return (uint16_t)(4 + olen);
}

enum step answer_run(struct request *req)
{
	struct worker *w = req->w;
	const struct msg *q = &req->q;
	struct result fallback = { .rcode = RCODE_SERVFAIL, .ede = EDE_NONE };
	const struct result *res = req->result ? req->result : &fallback;
	uint8_t opts[4 + 2 + EDE_TEXT_MAX];
	uint16_t opts_len = 0;
	if (q->has_opt && res->ede != EDE_NONE)
		opts_len = encode_ede(opts, res->ede, res->ede_text);
	size_t opt_size = q->has_opt ? MB_OPT_SIZE(opts_len) : 0;

	size_t cap = req->reply_max;
	uint8_t *buf = arena_alloc(req->arena, cap);
	if (!buf)
		return STEP_FAIL;
	uint16_t rcode = res->rcode;
	/* RFC 1035 4.1.1: ID, opcode and RD are copied from the query */
	uint16_t flags = FLAG_QR | FLAG_RA | (q->hdr.flags & (0x7800 | FLAG_RD | FLAG_CD)) |
			 (rcode & 0xf);
	struct msg_builder b;
	/* the OPT record is always sent: keep room for it */
	mb_init(&b, buf, cap - opt_size, q->hdr.id, flags);
	if (q->hdr.qdcount == 1 && mb_question(&b, q->qname, q->qtype, q->qclass) < 0)
		return STEP_FAIL;
	bool dnssec_ok = q->has_opt && (q->edns_flags & EDNS_FLAG_DO);
	/* RFC 6840 5.8: AD only on secure data, for a client that showed it understands */
	if (res->secure && rcode != RCODE_SERVFAIL && (dnssec_ok || (q->hdr.flags & FLAG_AD)))
		flags |= FLAG_AD;
	mb_set_flags(&b, flags);
	bool truncated = false;
	if (add_rrsets(&b, SEC_ANSWER, res->answer, dnssec_ok) < 0)
		truncated = true;
	else if (add_rrsets(&b, SEC_AUTHORITY, res->authority, dnssec_ok) < 0)
		truncated = true;
	if (truncated)
		mb_set_flags(&b, flags | FLAG_TC);
	b.cap = cap;
	if (q->has_opt && mb_opt(&b, w->cfg->edns_udp_size, (uint8_t)(rcode >> 4),
				 dnssec_ok ? EDNS_FLAG_DO : 0, opts, opts_len) < 0)
		return STEP_FAIL;
	req->reply = buf;
	req->reply_len = (uint16_t)mb_finish(&b);
	if (rcode == RCODE_SERVFAIL)
		w->stats.servfail++;
	w->stats.answers++;
	return STEP_NEXT;
}

size_t answer_formerr(const uint8_t *q, size_t q_len, uint8_t *out, size_t cap)
{
	/* RFC 1035 4.1.1: FORMERR echoes the ID; no question, since it did not parse */
	if (q_len < DNS_HDR_LEN || cap < DNS_HDR_LEN || (q[2] & 0x80))
		return 0; /* too short to answer, or a response: drop (no reflection) */
	uint16_t id = (uint16_t)(q[0] << 8 | q[1]);
	uint16_t flags = FLAG_QR | (uint16_t)((q[2] << 8) & (0x7800 | FLAG_RD)) | RCODE_FORMERR;
	struct msg_builder b;
	mb_init(&b, out, cap, id, flags);
	return mb_finish(&b);
}
