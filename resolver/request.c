/* resolver/request: a client message becomes a request here: copied into its
 * arena, parsed, checked (RFC 1035 / RFC 6891 rules for queries), then handed
 * to the pipeline. Garbage gets FORMERR or is dropped, never more work. */
#include "resolver/request.h"

#include <errno.h>
#include <string.h>

#include "base/arena.h"
#include "base/log.h"
#include "resolver/answer.h"
#include "resolver/config.h"
#include "resolver/pipeline.h"
#include "resolver/resolution.h"
#include "resolver/server.h"
#include "resolver/worker.h"

#define UDP_PLAIN_MAX 512 /* RFC 1035 4.2.1, without EDNS */

static uint16_t reply_size(const struct request *req)
{
	if (req->is_tcp)
		return UINT16_MAX;
	if (!req->q.has_opt)
		return UDP_PLAIN_MAX;
	/* RFC 6891 6.2.5: values below 512 are treated as 512 */
	uint16_t client = req->q.edns_udp_size < UDP_PLAIN_MAX ? UDP_PLAIN_MAX : req->q.edns_udp_size;
	uint16_t ours = req->w->cfg->edns_udp_size;
	return client < ours ? client : ours;
}

static int start(struct worker *w, const uint8_t *wire, size_t len, const struct sockaddr *peer,
		 socklen_t peer_len, struct udp_listener *udp, struct tcp_conn *conn,
		 const struct transport *tx, void *tx_ctx);

void request_start(struct worker *w, const uint8_t *wire, size_t len, const struct sockaddr *peer,
		   socklen_t peer_len, struct udp_listener *udp, struct tcp_conn *conn)
{
	(void)start(w, wire, len, peer, peer_len, udp, conn, NULL, NULL);
}

int request_start_tx(struct worker *w, const uint8_t *wire, size_t len, const struct sockaddr *peer,
		     socklen_t peer_len, const struct transport *tx, void *tx_ctx)
{
	return start(w, wire, len, peer, peer_len, NULL, NULL, tx, tx_ctx);
}

static int start(struct worker *w, const uint8_t *wire, size_t len, const struct sockaddr *peer,
		 socklen_t peer_len, struct udp_listener *udp, struct tcp_conn *conn,
		 const struct transport *tx, void *tx_ctx)
{
	struct arena *a = arena_create(REQUEST_ARENA_MAX);
	if (!a)
		goto drop;
	struct request *req = arena_zalloc(a, sizeof(*req));
	if (!req || len > UINT16_MAX || peer_len > sizeof(req->peer)) {
		arena_destroy(a);
		goto drop;
	}
	req->arena = a;
	req->w = w;
	req->no = ++w->next_request_no;
	req->udp = udp;
	req->conn = conn;
	req->tx = tx;
	req->tx_ctx = tx_ctx;
	req->is_tcp = conn != NULL || tx != NULL;
	memcpy(&req->peer, peer, peer_len);
	req->peer_len = peer_len;
	req->q_wire = arena_memdup(a, wire, len);
	req->q_len = (uint16_t)len;
	if (!req->q_wire || (len >= DNS_HDR_LEN && (wire[2] & 0x80))) {
		/* out of memory, or a response sent to us: never answer (no
		 * reflection); through server_reply() so TCP's books stay straight */
		req->reply_len = 0;
		server_reply(req);
		return 0;
	}
	const char *why = NULL;
	/* A QUERY has exactly one question and nothing in answer or authority
	 * (RFC 1035 4.1.2); other opcodes (UPDATE carries records) get NOTIMP
	 * from admit, as long as the message parses. */
	bool bad = msg_parse(&req->q, req->q_wire, len, &why) < 0;
	if (!bad && FLAGS_OPCODE(req->q.hdr.flags) == 0)
		bad = req->q.hdr.qdcount != 1 || req->q.hdr.ancount != 0 || req->q.hdr.nscount != 0;
	if (bad) {
		w->stats.formerr++;
		log_debug("request %llu: FORMERR (%s)", (unsigned long long)req->no,
			  why ? why : "not a query with one question");
		uint8_t *out = arena_alloc(a, DNS_HDR_LEN);
		req->reply = out;
		req->reply_len = out ? (uint16_t)answer_formerr(wire, len, out, DNS_HDR_LEN) : 0;
		server_reply(req);
		return 0;
	}
	req->q_parsed = true;
	req->reply_max = reply_size(req);
	pipeline_request_run(req);
	return 0;
drop:
	if (conn)
		server_tcp_dropped(conn); /* keep the connection's books straight */
	return -ENOMEM; /* no request: a transport of its own cleans up itself */
}

void request_run(struct request *req)
{
	pipeline_request_run(req);
}

void request_free(struct request *req)
{
	struct tcp_conn *conn = req->conn;
	arena_destroy(req->arena);
	if (conn)
		tcp_conn_unref(conn);
}
