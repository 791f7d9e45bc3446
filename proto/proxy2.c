/* proto/proxy2: the PROXY protocol v2 header; see proxy2.h. */
#include "proto/proxy2.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t sig[PROXY2_SIG_LEN] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					     0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

void proxy2_init(struct proxy2 *p)
{
	memset(p, 0, sizeof(*p));
	p->state = PROXY2_MORE;
}

/* The 16-byte header is in: check it. */
static enum proxy2_state check_header(struct proxy2 *p)
{
	uint8_t ver_cmd = p->buf[12], fam = p->buf[13];
	p->len = (size_t)p->buf[14] << 8 | p->buf[15];
	if (ver_cmd >> 4 != 2)
		return PROXY2_BAD;
	switch (ver_cmd & 0x0f) {
	case 0:
		p->local = true;
		break;
	case 1:
		break;
	default:
		return PROXY2_BAD;
	}
	switch (fam) {
	case 0x11: /* TCP over IPv4 */
	case 0x12: /* UDP over IPv4 */
		p->addr_len = 12;
		break;
	case 0x21: /* TCP over IPv6 */
	case 0x22:
		p->addr_len = 36;
		break;
	case 0x31: /* AF_UNIX */
	case 0x32:
		p->addr_len = 216;
		break;
	case 0x00: /* UNSPEC */
		p->addr_len = 0;
		break;
	default:
		return PROXY2_BAD;
	}
	/* a proxied connection to a TCP service: only TCP (or LOCAL, which ignores
	 * the address block) makes sense */
	if (!p->local && fam != 0x11 && fam != 0x21 && fam != 0x00)
		return PROXY2_BAD;
	if (p->len < p->addr_len)
		return PROXY2_BAD;
	return PROXY2_MORE;
}

/* The address block is in buf after the header. */
static void take_addresses(struct proxy2 *p)
{
	const uint8_t *a = p->buf + PROXY2_HDR_LEN;
	uint8_t fam = p->buf[13];
	if (p->local || (fam != 0x11 && fam != 0x21))
		return;
	p->has_src = true;
	if (fam == 0x11) {
		struct sockaddr_in *s = (struct sockaddr_in *)&p->src, *d = (struct sockaddr_in *)&p->dst;
		memset(&p->src, 0, sizeof(p->src));
		memset(&p->dst, 0, sizeof(p->dst));
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		p->src_len = p->dst_len = sizeof(struct sockaddr_in);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&p->src,
				    *d = (struct sockaddr_in6 *)&p->dst;
		memset(&p->src, 0, sizeof(p->src));
		memset(&p->dst, 0, sizeof(p->dst));
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		p->src_len = p->dst_len = sizeof(struct sockaddr_in6);
	}
}

size_t proxy2_feed(struct proxy2 *p, const uint8_t *data, size_t len)
{
	size_t used = 0;
	while (p->state == PROXY2_MORE && used < len) {
		uint8_t b = data[used];
		if (p->have < PROXY2_SIG_LEN) {
			p->buf[p->have++] = b;
			used++;
			if (b != sig[p->have - 1])
				p->state = PROXY2_NONE;
			continue;
		}
		if (p->have < PROXY2_HDR_LEN) {
			p->buf[p->have++] = b;
			used++;
			if (p->have == PROXY2_HDR_LEN) {
				p->state = check_header(p);
				if (p->state == PROXY2_MORE && p->len == 0)
					p->state = PROXY2_DONE;
			}
			continue;
		}
		/* the address block, then TLVs (type, 16-bit length, value) */
		if (p->seen < p->addr_len) {
			size_t n = p->addr_len - p->seen;
			if (n > len - used)
				n = len - used;
			memcpy(p->buf + PROXY2_HDR_LEN + p->seen, data + used, n);
			p->seen += n;
			used += n;
			if (p->seen == p->addr_len)
				take_addresses(p);
		} else if (p->tlv_left > 0) {
			size_t n = p->tlv_left;
			if (n > len - used)
				n = len - used;
			p->tlv_left -= n;
			p->seen += n;
			used += n;
		} else {
			p->tlv[p->tlv_have++] = b;
			p->seen++;
			used++;
			if (p->tlv_have == 3) {
				p->tlv_have = 0;
				p->tlv_left = (size_t)p->tlv[1] << 8 | p->tlv[2];
				if (p->tlv_left > p->len - p->seen) {
					p->state = PROXY2_BAD; /* a TLV beyond the header */
					break;
				}
			}
		}
		if (p->seen == p->len)
			p->state = p->tlv_have ? PROXY2_BAD : PROXY2_DONE;
	}
	return used;
}
