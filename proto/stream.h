/* proto/stream: DNS over a byte stream (RFC 1035 4.2.2, RFC 7766): messages
 * prefixed by a 16-bit length. A sans-I/O reassembly buffer: the transport
 * feeds bytes in, and takes whole messages out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_BUF_MAX (65535 + 2)

struct stream_buf {
	uint8_t data[STREAM_BUF_MAX];
	size_t len;
};

/** Append up to @n bytes; returns how many were taken (less when full). */
size_t stream_feed(struct stream_buf *s, const uint8_t *p, size_t n);
/** The next whole message (borrowed from @s until stream_consume()), or NULL.
 * *@bad is set when the length prefix is below a DNS header: close the stream. */
const uint8_t *stream_next(const struct stream_buf *s, uint16_t *len, bool *bad);
/** Drop the message returned by stream_next(). */
void stream_consume(struct stream_buf *s);
