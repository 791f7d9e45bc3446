/* resolver/local: locally answered names; see local.h. */
#include "resolver/local.h"

#include <netinet/in.h>
#include <string.h>

#include "base/arena.h"
#include "resolver/config.h"
#include "resolver/request.h"
#include "resolver/worker.h"

#define LOCAL_TTL_S 300
#define SVCB_KEY_ALPN 1     /* RFC 9460 14.3.2 */
#define SVCB_KEY_PORT 3
#define SVCB_KEY_IPV4HINT 4
#define SVCB_KEY_IPV6HINT 6
#define SVCB_KEY_DOHPATH 7  /* RFC 9461 5 */
#define SVCB_RDATA_MAX 512

/* "\x04_dns\x08resolver\x04arpa\x00" and friends, in wire form */
static const uint8_t DNS_RESOLVER_ARPA[] = "\x04_dns\x08resolver\x04" "arpa";
static const uint8_t RESOLVER_ARPA[] = "\x08resolver\x04" "arpa";
static const uint8_t LOCALHOST[] = "\x09localhost";

struct buf {
	uint8_t d[SVCB_RDATA_MAX];
	size_t n;
	bool full;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > sizeof(b->d)) {
		b->full = true;
		return;
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(b, x, 2);
}

/* One SVCB RDATA: priority, target, then the parameters in key order. */
static void svcb(struct buf *b, uint16_t prio, const uint8_t *target, const char *const *alpn,
		 const struct listen_addr *la, const char *dohpath)
{
	put16(b, prio);
	put(b, target, name_len(target));
	/* alpn (1) */
	size_t alpn_len = 0;
	for (const char *const *a = alpn; *a; a++)
		alpn_len += 1 + strlen(*a);
	put16(b, SVCB_KEY_ALPN);
	put16(b, (uint16_t)alpn_len);
	for (const char *const *a = alpn; *a; a++) {
		uint8_t l = (uint8_t)strlen(*a);
		put(b, &l, 1);
		put(b, *a, l);
	}
	/* port (3) */
	uint16_t port;
	if (la->ss.ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)&la->ss)->sin_port);
	else
		port = ntohs(((const struct sockaddr_in6 *)&la->ss)->sin6_port);
	put16(b, SVCB_KEY_PORT);
	put16(b, 2);
	put16(b, port);
	/* ipv4hint (4) / ipv6hint (6): the listener's own address, unless a wildcard */
	if (la->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&la->ss;
		if (in->sin_addr.s_addr != htonl(INADDR_ANY)) {
			put16(b, SVCB_KEY_IPV4HINT);
			put16(b, 4);
			put(b, &in->sin_addr, 4);
		}
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&la->ss;
		if (memcmp(&in6->sin6_addr, &in6addr_any, 16) != 0) {
			put16(b, SVCB_KEY_IPV6HINT);
			put16(b, 16);
			put(b, &in6->sin6_addr, 16);
		}
	}
	if (dohpath) {
		put16(b, SVCB_KEY_DOHPATH);
		put16(b, (uint16_t)strlen(dohpath));
		put(b, dohpath, strlen(dohpath));
	}
}

static struct rrset *rrset_new(struct request *req, const uint8_t *owner, uint16_t type)
{
	struct rrset *s = arena_zalloc(req->arena, sizeof(*s));
	if (!s)
		return NULL;
	s->owner = arena_memdup(req->arena, owner, name_len(owner));
	s->type = type;
	s->ttl_s = LOCAL_TTL_S;
	s->orig_ttl_s = LOCAL_TTL_S;
	return s->owner ? s : NULL;
}

static bool rrset_add(struct request *req, struct rrset *s, const void *rd, size_t len)
{
	uint8_t *n = arena_alloc(req->arena, s->rdata_len + 2 + len);
	if (!n || len > UINT16_MAX)
		return false;
	if (s->rdata_len)
		memcpy(n, s->rdata, s->rdata_len);
	n[s->rdata_len] = (uint8_t)(len >> 8);
	n[s->rdata_len + 1] = (uint8_t)len;
	memcpy(n + s->rdata_len + 2, rd, len);
	s->rdata = n;
	s->rdata_len += 2 + (uint32_t)len;
	s->n_rdata++;
	return true;
}

/* RFC 9462 4: an SVCB record per encrypted listener, DoT first. */
static struct rrset *ddr_records(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	uint8_t target[NAME_MAX_WIRE];
	if (!cfg->ddr_name || name_from_text(cfg->ddr_name, target) < 0)
		return NULL;
	struct rrset *s = rrset_new(req, DNS_RESOLVER_ARPA, TYPE_SVCB);
	if (!s)
		return NULL;
	char dohpath[160];
	snprintf(dohpath, sizeof(dohpath), "%s{?dns}", cfg->doh_path ? cfg->doh_path : "/dns-query");
	static const char *const alpn_dot[] = { "dot", NULL };
	static const char *const alpn_doh[] = { "h2", "http/1.1", NULL };
	for (int kind = LISTEN_TLS; kind <= LISTEN_HTTPS; kind++) {
		for (int i = 0; i < cfg->n_listen; i++) {
			const struct listen_addr *la = &cfg->listen[i];
			if ((int)la->kind != kind)
				continue;
			struct buf b = { .n = 0 };
			if (kind == LISTEN_TLS)
				svcb(&b, 1, target, alpn_dot, la, NULL);
			else
				svcb(&b, 2, target, alpn_doh, la, dohpath);
			if (!b.full && !rrset_add(req, s, b.d, b.n))
				return NULL;
		}
	}
	return s->n_rdata ? s : NULL;
}

static enum step answer(struct request *req, uint8_t rcode, struct rrset *s)
{
	struct result *res = arena_zalloc(req->arena, sizeof(*res));
	if (!res)
		return STEP_FAIL;
	res->rcode = rcode;
	res->ede = EDE_NONE;
	res->answer = s;
	req->result = res;
	return STEP_ANSWER;
}

enum step local_run(struct request *req)
{
	const uint8_t *qname = req->q.qname;
	uint16_t qtype = req->q.qtype;
	if (name_equal(qname, DNS_RESOLVER_ARPA)) {
		struct rrset *s = qtype == TYPE_SVCB ? ddr_records(req) : NULL;
		return answer(req, RCODE_NOERROR, s); /* no DDR configured: NODATA */
	}
	/* RFC 9462 6.4: resolver.arpa is ours; nothing else lives there */
	if (name_is_under(qname, RESOLVER_ARPA))
		return answer(req, name_equal(qname, RESOLVER_ARPA) ? RCODE_NOERROR : RCODE_NXDOMAIN,
			      NULL);
	if (name_is_under(qname, LOCALHOST)) {
		/* RFC 6761 6.3: localhost and below are the loopback addresses */
		struct rrset *s = NULL;
		if (qtype == TYPE_A) {
			static const uint8_t lo4[4] = { 127, 0, 0, 1 };
			s = rrset_new(req, qname, TYPE_A);
			if (s && !rrset_add(req, s, lo4, 4))
				s = NULL;
		} else if (qtype == TYPE_AAAA) {
			s = rrset_new(req, qname, TYPE_AAAA);
			if (s && !rrset_add(req, s, &in6addr_loopback, 16))
				s = NULL;
		}
		return answer(req, RCODE_NOERROR, s);
	}
	return STEP_NEXT;
}
