/* resolver/request: one client message, from the transport to the answer.
 * It lives in its own arena (its first allocation) and is freed once the reply
 * has been handed to the transport. The stages it runs are listed in
 * resolver/pipeline.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "proto/wire.h"
#include "resolver/rrset.h"

struct arena;
struct worker;
struct resolution;
struct tcp_conn;
struct udp_listener;

#define REQUEST_ARENA_MAX (128 * 1024)

struct request;

/** A transport other than plain UDP/TCP (DoT, DoH) plugs in with this: the
 * request calls reply() once, with req->reply/reply_len set (len 0: drop),
 * and reply() must end with request_free(req). */
struct transport {
	const char *name; /* "dot", "doh"...: for policy and statistics, never logged with names */
	void (*reply)(struct request *req);
	/* DoH: the request's path ("/dns-query", "/dns-query/family"); may be NULL */
	const char *(*path)(const struct request *req);
};

struct request {
	struct arena *arena;
	struct worker *w;
	uint64_t no;       /* for log lines: never the name or the client */
	bool is_tcp;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct udp_listener *udp; /* UDP: the listener it arrived on */
	struct tcp_conn *conn;  /* TCP: the connection (holds a reference) */
	const struct transport *tx; /* other transports: how to reply */
	void *tx_ctx;           /* theirs: the stream, the connection... */

	uint8_t *q_wire;   /* the query, copied into the arena */
	uint16_t q_len;
	struct msg q;      /* view into q_wire */
	bool q_parsed;
	uint16_t reply_max; /* bytes the reply may take */

	int stage;         /* index into the pipeline */
	struct resolution *res; /* while waiting */
	struct result *result;
	struct request *ready_next;
	bool queued;

	uint8_t *reply;
	uint16_t reply_len;
};

/** Start a request for the message @wire (copied) from a client. The caller is
 * the transport (resolver/server.c). */
void request_start(struct worker *w, const uint8_t *wire, size_t len, const struct sockaddr *peer,
		   socklen_t peer_len, struct udp_listener *udp, struct tcp_conn *conn);
/** request_start() for a transport @tx (a stream transport: replies up to
 * 65535 bytes, no truncation); @tx_ctx is kept in req->tx_ctx for it.
 * Returns 0 (tx->reply() will be called exactly once) or -ENOMEM (it will
 * not: the transport answers or drops the message itself). */
int request_start_tx(struct worker *w, const uint8_t *wire, size_t len, const struct sockaddr *peer,
		      socklen_t peer_len, const struct transport *tx, void *tx_ctx);
/** Run the request's stages from where it stopped. */
void request_run(struct request *req);
/** Free a request (its arena). */
void request_free(struct request *req);
