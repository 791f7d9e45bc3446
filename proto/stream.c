/* proto/stream: length-prefixed message reassembly; see stream.h. */
#include "proto/stream.h"

#include <string.h>

#include "proto/wire.h"

size_t stream_feed(struct stream_buf *s, const uint8_t *p, size_t n)
{
	size_t room = sizeof(s->data) - s->len;
	if (n > room)
		n = room;
	memcpy(s->data + s->len, p, n);
	s->len += n;
	return n;
}

const uint8_t *stream_next(const struct stream_buf *s, uint16_t *len, bool *bad)
{
	*bad = false;
	if (s->len < 2)
		return NULL;
	uint16_t l = (uint16_t)(s->data[0] << 8 | s->data[1]);
	if (l < DNS_HDR_LEN) {
		*bad = true; /* a length that cannot hold a header is a lie */
		return NULL;
	}
	if (s->len < 2u + l)
		return NULL;
	*len = l;
	return s->data + 2;
}

void stream_consume(struct stream_buf *s)
{
	uint16_t l = (uint16_t)(s->data[0] << 8 | s->data[1]);
	size_t used = 2u + l;
	memmove(s->data, s->data + used, s->len - used);
	s->len -= used;
}
