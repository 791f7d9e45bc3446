/* proto/proxy2: the PROXY protocol version 2 header (HAProxy's
 * proxy-protocol.txt, section 2.2) that a reverse proxy sends before the
 * client's bytes, giving the client's address. Sans I/O: feed bytes as they
 * come; the header is parsed in place (the address block is kept, TLVs are
 * checked for bounds and skipped), so nothing larger than one address block is
 * ever buffered. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY2_SIG_LEN 12
#define PROXY2_HDR_LEN 16
#define PROXY2_ADDR_MAX 216 /* the largest address block (AF_UNIX) */

enum proxy2_state {
	PROXY2_MORE,  /* feed more bytes */
	PROXY2_DONE,  /* the header is over: what follows is the client's */
	PROXY2_NONE,  /* no PROXY v2 signature: the bytes seen so far are in buf[0..have) */
	PROXY2_BAD,   /* a malformed header */
};

struct proxy2 {
	enum proxy2_state state;
	uint8_t buf[PROXY2_HDR_LEN + PROXY2_ADDR_MAX];
	size_t have;            /* bytes in buf */
	size_t len;             /* the header's length field: address block + TLVs */
	size_t addr_len;        /* of the address block for the family */
	size_t seen;            /* bytes of the address block + TLVs seen */
	uint8_t tlv[3];         /* the TLV header being read */
	size_t tlv_have;
	size_t tlv_left;        /* value bytes of the current TLV still to skip */
	/* the result (PROXY2_DONE) */
	bool local;             /* the LOCAL command: the proxy speaks for itself */
	bool has_src;           /* PROXY over TCP/IPv4 or TCP/IPv6: src is the client */
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
};

/** Start (or restart) a parser. */
void proxy2_init(struct proxy2 *p);
/** Feed @len bytes; returns how many were taken (on PROXY2_DONE, the rest
 * belong to the application protocol; on PROXY2_NONE, the bytes seen so far
 * are in p->buf[0..p->have), and the rest of @data after the returned count
 * follows them). p->state tells where the parser is. */
size_t proxy2_feed(struct proxy2 *p, const uint8_t *data, size_t len);
