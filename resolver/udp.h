/* resolver/udp: the client side of UDP. Each worker polls its own SO_REUSEPORT
 * socket per listen address and moves datagrams in batches (recvmmsg, sendmmsg:
 * one system call for up to UDP_BATCH queries, which libuv 1.44 cannot do for
 * sends). Cache hits are answered in the batch by the fast path; everything
 * else becomes a request whose reply is sent on its own later. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "resolver/fastpath.h"

struct worker;

#define UDP_BATCH 32           /* datagrams per recvmmsg/sendmmsg */
#define UDP_QUERY_MAX 4096     /* larger queries are dropped: no real stub sends them */
#define UDP_REPLY_MAX 4096     /* the most edns-udp-size may allow */
#define UDP_BATCHES_PER_WAKEUP 8 /* then let the loop run other work */
#define UDP_DF_MAX 1232        /* largest edns-udp-size with IPv4 replies sent DF */

struct udp_listener {
	uv_poll_t poll;
	int fd;
	struct worker *w;
	/* One cache line more than the size: buffers 4 KiB apart would all start
	 * in the same set of the CPU's cache and push each other out. */
	uint8_t qbuf[UDP_BATCH][UDP_QUERY_MAX + 64];
	uint8_t rbuf[UDP_BATCH][UDP_REPLY_MAX + 64];
	struct sockaddr_storage peers[UDP_BATCH];
	struct mmsghdr in[UDP_BATCH]; /* receive headers, on qbuf and peers */
	struct iovec iov_in[UDP_BATCH];
	struct fp_query fq[UDP_BATCH]; /* the batch's questions, parsed */
};

/** Start serving the bound socket @fd. */
int udp_listener_start(struct worker *w, struct udp_listener *ul, int fd);
/** Stop polling and close the socket. */
void udp_listener_close(struct udp_listener *ul);
/** Send one reply (the slow path). A full socket buffer drops it, as the
 * network could; a closed listener drops it too. */
void udp_send(struct udp_listener *ul, const uint8_t *reply, size_t len, const struct sockaddr *peer,
	      socklen_t peer_len);
