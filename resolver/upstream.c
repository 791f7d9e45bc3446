/* resolver/upstream: sockets to authoritative servers; see upstream.h.
 * One fresh socket per query: UDP bound to port 0 gives a random source port
 * (RFC 5452), and connect() makes the kernel drop datagrams from any other
 * address or port. A reply whose ID or question does not match is ignored and
 * the wait goes on (a spoofing attempt must not end the query).
 *
 * Sharing: concurrent resolutions often ask the same thing at the same moment
 * (the minimised probes of names under one zone, before the first referral is
 * cached). A UDP query identical to one in flight from this worker (same zone
 * cut, QNAME, QTYPE; flags and EDNS are the same for every query) joins it
 * instead of being sent again: every resolution attached to the io gets the
 * reply, the timeout or the failure as if it had sent the query itself. */
#include "resolver/upstream.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "proto/stream.h"
#include "proto/wire.h"
#include "resolver/iterate.h"
#include "resolver/resolution.h"
#include "resolver/servers.h"
#include "resolver/worker.h"

#define UPSTREAM_REPLY_MAX 65535
#define UPSTREAM_REPLY_FIRST 1232 /* the default --edns-udp-size: most replies fit */

struct upstream_io {
	union {
		uv_handle_t handle;
		uv_udp_t udp;
		uv_tcp_t tcp;
	} h;
	uv_timer_t timer;
	uv_connect_t connect;
	uv_write_t write;
	struct worker *w;
	struct resolution *rs; /* waiting for the outcome, by io_next; NULL once
				* all were cancelled or it was delivered */
	struct upstream_io *share_next; /* in w->upstream_shared */
	bool shared;                    /* in that table */
	uint32_t hash;                  /* of zone and QNAME */
	uint64_t expires_ms;            /* when the timer fires */
	/* the question, to match replies and to find identical queries */
	uint16_t id, qtype;
	uint8_t qname[NAME_MAX_WIRE];
	uint8_t zone[NAME_MAX_WIRE];    /* the cut asked */
	bool probe;                     /* a minimised query (RFC 9156), not a resolution's own */
	int open_handles;
	uint8_t prefix[2];
	struct stream_buf *sbuf; /* TCP only */
};

static _Thread_local uint8_t udp_rbuf[UPSTREAM_REPLY_MAX];

static void io_closed(uv_handle_t *h)
{
	struct upstream_io *io = h->data;
	if (--io->open_handles == 0) {
		free(io->sbuf);
		free(io);
	}
}

static uint32_t share_hash(const uint8_t *zone, const uint8_t *qname)
{
	uint32_t h = 2166136261u;
	for (const uint8_t *p = qname; p < qname + name_len(qname); p++) {
		uint8_t c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return (h ^ (uint32_t)name_len(zone)) * 16777619u;
}

static void share_unlink(struct upstream_io *io)
{
	if (!io->shared)
		return;
	io->shared = false;
	struct upstream_io **p = &io->w->upstream_shared[io->hash % UPSTREAM_SHARE_BUCKETS];
	for (; *p; p = &(*p)->share_next)
		if (*p == io) {
			*p = io->share_next;
			break;
		}
}

static void io_close(struct upstream_io *io)
{
	share_unlink(io);
	io->rs = NULL;
	if (!uv_is_closing(&io->h.handle))
		uv_close(&io->h.handle, io_closed);
	if (!uv_is_closing((uv_handle_t *)&io->timer))
		uv_close((uv_handle_t *)&io->timer, io_closed);
}

/* Does @wire answer the question we asked? Only then may it end the wait. */
static bool reply_matches(const struct upstream_io *io, const uint8_t *wire, size_t len)
{
	if (len < DNS_HDR_LEN)
		return false;
	uint16_t id = (uint16_t)(wire[0] << 8 | wire[1]);
	if (id != io->id || !(wire[2] & 0x80))
		return false;
	/* the question must be there and be ours (RFC 5452 9.1) */
	if ((wire[4] << 8 | wire[5]) != 1)
		return false;
	size_t pos = DNS_HDR_LEN;
	uint8_t qname[NAME_MAX_WIRE];
	if (name_unpack(wire, len, &pos, qname) < 0 || pos + 4 > len)
		return false;
	uint16_t qtype = (uint16_t)(wire[pos] << 8 | wire[pos + 1]);
	uint16_t qclass = (uint16_t)(wire[pos + 2] << 8 | wire[pos + 3]);
	return qtype == io->qtype && qclass == CLASS_IN && name_equal(qname, io->qname);
}

/* Hand the outcome to one resolution waiting on the io. */
static void deliver_one(struct resolution *r, const uint8_t *wire, size_t len, bool timed_out,
			bool failed, uint32_t rtt_ms)
{
	struct upstream_query *uq = &r->uq;
	r->io = NULL;
	uq->timed_out = timed_out;
	uq->failed = failed;
	uq->reply = NULL;
	uq->reply_len = 0;
	if (wire && !timed_out) {
		uq->rtt_ms = rtt_ms;
		if (len > r->reply_cap && len <= UPSTREAM_REPLY_MAX) {
			/* sized to the replies seen, not to the largest possible: a
			 * resolution in flight holds one, and most fit in a packet.
			 * Doubling bounds what the arena keeps to twice the largest. */
			size_t cap = r->reply_cap ? 2 * (size_t)r->reply_cap : UPSTREAM_REPLY_FIRST;
			if (cap < len)
				cap = len;
			if (cap > UPSTREAM_REPLY_MAX)
				cap = UPSTREAM_REPLY_MAX;
			r->reply_buf = arena_alloc(r->arena, cap);
			r->reply_cap = r->reply_buf ? (uint16_t)cap : 0;
		}
		if (r->reply_buf && len <= r->reply_cap) {
			memcpy(r->reply_buf, wire, len);
			uq->reply = r->reply_buf;
			uq->reply_len = (uint16_t)len;
		} else {
			uq->failed = true;
		}
	}
	resolution_upstream_done(r); /* only queues it: nothing runs before the drain */
}

static void deliver(struct upstream_io *io, const uint8_t *wire, size_t len, bool timed_out,
		    bool failed)
{
	struct resolution *rs = io->rs;
	struct worker *w = io->w;
	io_close(io);
	if (!rs)
		return;
	uint64_t now = clock_mono_ms();
	const struct sockaddr *sa = (const struct sockaddr *)&rs->uq.ss;
	uint32_t rtt_ms = 0;
	if (timed_out) {
		w->stats.upstream_timeouts++;
		servers_timeout(w->servers, sa, now);
	} else if (wire) {
		rtt_ms = (uint32_t)(now - rs->uq.sent_ms);
		servers_rtt(w->servers, sa, rtt_ms);
	} else if (failed) {
		servers_timeout(w->servers, sa, now); /* refused or unreachable: back off too */
	}
	while (rs) {
		struct resolution *next = rs->io_next;
		rs->io_next = NULL;
		deliver_one(rs, wire, len, timed_out, failed, rtt_ms);
		rs = next;
	}
	worker_drain(w);
}

static void on_timeout(uv_timer_t *t)
{
	deliver(t->data, NULL, 0, true, false);
}

/* ---- UDP ---- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	*buf = uv_buf_init((char *)udp_rbuf, sizeof(udp_rbuf));
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		     unsigned flags)
{
	struct upstream_io *io = h->data;
	if (!io->rs)
		return;
	if (nread < 0) {
		deliver(io, NULL, 0, false, true); /* ICMP unreachable on a connected socket */
		return;
	}
	if (nread == 0 || (flags & UV_UDP_PARTIAL))
		return;
	if (!reply_matches(io, (const uint8_t *)buf->base, (size_t)nread))
		return; /* not ours: keep waiting */
	deliver(io, (const uint8_t *)buf->base, (size_t)nread, false, false);
}

static int send_udp(struct upstream_io *io, struct upstream_query *uq)
{
	uv_loop_t *loop = &io->w->loop;
	int rc = uv_udp_init_ex(loop, &io->h.udp, uq->ss.sa.sa_family);
	if (rc < 0)
		return rc;
	io->h.udp.data = io;
	io->open_handles++;
	rc = uv_udp_connect(&io->h.udp, (const struct sockaddr *)&uq->ss);
	if (rc < 0)
		return rc;
	rc = uv_udp_recv_start(&io->h.udp, udp_alloc, udp_recv);
	if (rc < 0)
		return rc;
	uv_buf_t b = uv_buf_init((char *)uq->wire, uq->wire_len);
	rc = uv_udp_try_send(&io->h.udp, &b, 1, NULL);
	return rc < 0 ? rc : 0;
}

/* ---- TCP (after TC=1, RFC 7766 5) ---- */

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct upstream_io *io = h->data;
	size_t room = sizeof(io->sbuf->data) - io->sbuf->len;
	*buf = uv_buf_init((char *)io->sbuf->data + io->sbuf->len, (unsigned)room);
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct upstream_io *io = s->data;
	if (!io->rs)
		return;
	if (nread < 0) {
		deliver(io, NULL, 0, false, true);
		return;
	}
	io->sbuf->len += (size_t)nread;
	for (;;) {
		uint16_t len;
		bool bad;
		const uint8_t *m = stream_next(io->sbuf, &len, &bad);
		if (bad) {
			deliver(io, NULL, 0, false, true);
			return;
		}
		if (!m) {
			if (io->sbuf->len == sizeof(io->sbuf->data))
				deliver(io, NULL, 0, false, true);
			return;
		}
		if (reply_matches(io, m, len)) {
			deliver(io, m, len, false, false);
			return;
		}
		stream_consume(io->sbuf);
	}
}

static void tcp_written(uv_write_t *wr, int status)
{
	struct upstream_io *io = wr->data;
	if (status < 0 && io->rs)
		deliver(io, NULL, 0, false, true);
}

static void tcp_connected(uv_connect_t *c, int status)
{
	struct upstream_io *io = c->data;
	if (!io->rs)
		return;
	if (status < 0) {
		deliver(io, NULL, 0, false, true);
		return;
	}
	struct upstream_query *uq = &io->rs->uq;
	io->prefix[0] = (uint8_t)(uq->wire_len >> 8);
	io->prefix[1] = (uint8_t)uq->wire_len;
	uv_buf_t bufs[2] = { uv_buf_init((char *)io->prefix, 2),
			     uv_buf_init((char *)uq->wire, uq->wire_len) };
	io->write.data = io;
	if (uv_write(&io->write, (uv_stream_t *)&io->h.tcp, bufs, 2, tcp_written) < 0 ||
	    uv_read_start((uv_stream_t *)&io->h.tcp, tcp_alloc, tcp_read) < 0)
		deliver(io, NULL, 0, false, true);
}

static int send_tcp(struct upstream_io *io, struct upstream_query *uq)
{
	io->sbuf = malloc(sizeof(*io->sbuf));
	if (!io->sbuf)
		return -ENOMEM;
	io->sbuf->len = 0;
	int rc = uv_tcp_init(&io->w->loop, &io->h.tcp);
	if (rc < 0)
		return rc;
	io->h.tcp.data = io;
	io->open_handles++;
	io->connect.data = io;
	return uv_tcp_connect(&io->connect, &io->h.tcp, (const struct sockaddr *)&uq->ss,
			      tcp_connected);
}

/* Is r's query a minimised one (RFC 9156), asked only to find the next cut? */
static bool is_probe(const struct resolution *r)
{
	return r->uq.qtype != r->qtype || !name_equal(r->uq.qname, r->sname);
}

/* A UDP query in flight that @r may wait on instead of sending its own, with
 * the address it was sent to among r's servers; or NULL. An identical one, or
 * one for the same QNAME at the same cut with another QTYPE when either is a
 * minimised probe: the reply says where the next cut is (a referral, or
 * NXDOMAIN) whatever the type, and that is all a probe asks, and what a full
 * query needs first when the name is a cut (when it is not, the full query is
 * sent after the probe's reply: one round trip later, one query fewer when it
 * is). Two full queries of different types are not held back for each other.
 * Iterate reads the reply as that of a minimised query when its type is not
 * r's (classify()). */
static struct upstream_io *share_find(struct worker *w, struct resolution *r, uint32_t hash,
				      uint64_t now, struct server_addr **target)
{
	struct upstream_query *uq = &r->uq;
	bool probe = is_probe(r);
	struct upstream_io *other = NULL;
	struct server_addr *other_target = NULL;
	for (struct upstream_io *io = w->upstream_shared[hash % UPSTREAM_SHARE_BUCKETS]; io;
	     io = io->share_next) {
		if (io->hash != hash || !io->rs || (other && io->qtype != uq->qtype) ||
		    !name_equal(io->qname, uq->qname) || !name_equal(io->zone, r->cut.zone))
			continue;
		/* no wait may outlast what r would have waited on its own */
		if (io->expires_ms > now + uq->timeout_ms)
			continue;
		const struct upstream_query *lq = &io->rs->uq;
		for (int i = 0; i < r->cut.n_servers; i++) {
			struct server *s = &r->cut.servers[i];
			for (int k = 0; k < s->n_addrs; k++) {
				struct server_addr *a = &s->addrs[k];
				/* one r would have asked itself: not given up, not asked too often */
				if (a->broken || (a != uq->target && a->tries >= ADDR_TRIES_MAX))
					continue;
				if (a->len != lq->len || memcmp(&a->ss, &lq->ss, a->len) != 0)
					continue;
				if (io->qtype == uq->qtype) {
					*target = a;
					return io;
				}
				/* DS is answered by the parent side of a cut, never with a
				 * referral: its reply says nothing about a cut at the name */
				if (io->qtype == TYPE_DS || uq->qtype == TYPE_DS ||
				    (!probe && !io->probe))
					continue;
				other = io;
				other_target = a;
			}
		}
	}
	*target = other_target;
	return other;
}

/* r waits on @io's question instead of its own: from now on uq says what was
 * asked, so that the reply is read (and, if truncated, asked again over TCP)
 * as the answer to that question. Only the type differs: the QNAME is r's. */
static void share_take_question(struct upstream_query *uq, const struct upstream_io *io)
{
	if (io->qtype == uq->qtype)
		return;
	uq->qtype = io->qtype;
	size_t off = DNS_HDR_LEN + name_len(uq->qname);
	if (off + 2 <= uq->wire_len) {
		uq->wire[off] = (uint8_t)(io->qtype >> 8);
		uq->wire[off + 1] = (uint8_t)io->qtype;
	}
}

int upstream_send(struct worker *w, struct resolution *r)
{
	struct upstream_query *uq = &r->uq;
	uint64_t now = clock_mono_ms();
	uint32_t hash = 0;
	if (!uq->tcp) {
		hash = share_hash(r->cut.zone, uq->qname);
		struct server_addr *target = NULL;
		struct upstream_io *io = share_find(w, r, hash, now, &target);
		if (io) {
			/* the step counts against the address actually asked */
			if (uq->target && uq->target != target && uq->target->tries > 0)
				uq->target->tries--;
			if (uq->target != target)
				target->tries++;
			uq->target = target;
			share_take_question(uq, io);
			memcpy(&uq->ss, &io->rs->uq.ss, io->rs->uq.len);
			uq->len = io->rs->uq.len;
			uq->sent_ms = io->rs->uq.sent_ms;
			r->io_next = io->rs->io_next;
			io->rs->io_next = r;
			r->io = io;
			return 0;
		}
	}
	struct upstream_io *io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->w = w;
	io->rs = r;
	r->io_next = NULL;
	io->id = uq->id;
	io->qtype = uq->qtype;
	memcpy(io->qname, uq->qname, name_len(uq->qname));
	memcpy(io->zone, r->cut.zone, name_len(r->cut.zone));
	io->probe = is_probe(r);
	io->hash = hash;
	uv_timer_init(&w->loop, &io->timer);
	io->timer.data = io;
	io->open_handles = 1;
	uq->sent_ms = now;
	w->stats.upstream_queries++;
	int rc = uq->tcp ? send_tcp(io, uq) : send_udp(io, uq);
	if (rc < 0) {
		if (io->open_handles == 1) {
			/* only the timer exists: the socket never came to be */
			io->rs = NULL;
			uv_close((uv_handle_t *)&io->timer, io_closed);
		} else {
			io_close(io);
		}
		return rc;
	}
	r->io = io;
	io->expires_ms = now + uq->timeout_ms;
	uv_timer_start(&io->timer, on_timeout, uq->timeout_ms, 0);
	if (!uq->tcp) {
		io->shared = true;
		struct upstream_io **b = &w->upstream_shared[hash % UPSTREAM_SHARE_BUCKETS];
		io->share_next = *b;
		*b = io;
	}
	return 0;
}

void upstream_cancel(struct resolution *r)
{
	struct upstream_io *io = r->io;
	if (!io)
		return;
	r->io = NULL;
	for (struct resolution **p = &io->rs; *p; p = &(*p)->io_next)
		if (*p == r) {
			*p = r->io_next;
			break;
		}
	r->io_next = NULL;
	/* the others still wait for the reply; the last one gone ends the query */
	if (!io->rs)
		io_close(io);
}
