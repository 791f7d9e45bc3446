/* resolver/config: builds the immutable struct config at startup, from the
 * defaults, then the --config file, then the other flags (later wins), then
 * loads the root hints. It runs once, before any worker exists; it never sees a
 * query. Every problem is reported (file:line: what is wrong), not just the
 * first, so one --check-config run shows them all. */
#include "resolver/config.h"
#include "resolver/trust_anchor.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "base/err.h"
#include "resolver/policy.h"
#include "resolver/prefixset.h"

/* Weak, so that a program which links the config loader without the policy
 * stage (and its libuv and Lua) does not pull resolver/policy.o in for it;
 * ternd always has it (the pipeline runs the stage). */
#pragma weak policy_check

/* resolver/Makefile.inc passes -DTERN_VERSION="$(PACKAGE_VERSION)": the
 * autoconf config.h cannot be included by name from here, "config.h" would
 * find this room's own header first. */
#ifndef TERN_VERSION
#error "TERN_VERSION must be defined by the build (see resolver/Makefile.inc)"
#endif

#define THREADS_MAX 256
#define CACHE_SIZE_MIN (1024 * 1024) /* below this LMDB shards hold almost nothing */
#define CACHE_SIZE_DEFAULT ((size_t)512 * 1024 * 1024)
#define TTL_MAX_S 2147483647u /* RFC 2181 8: a TTL is a 31-bit value */
#define EDNS_UDP_SIZE_MIN 512 /* RFC 6891 6.2.5: values below 512 mean 512 */
#define EDNS_UDP_SIZE_MAX 4096 /* larger invites fragmentation (DNS flag day 2020) */
#define TCP_IDLE_TIMEOUT_MAX_MS 3600000u /* an hour; RFC 7766 6.2.3 suggests seconds */
#define TCP_CONN_MAX 1000000u /* each one is a file descriptor */
#define VERBOSITY_MAX 3
#define ERRORS_MAX 50 /* a binary file given as --config must not flood the terminal */
#define DNS_PORT 53

#define ROOT_HINTS_DEFAULT "/usr/share/dns/root.hints" /* Debian dns-root-data */
#define CACHE_DIR_DEFAULT "/var/cache/tern"

/* Which source a repeatable key's list came from: a later source replaces
 * the list of an earlier one, the same source appends to it. */
enum source { SRC_DEFAULT, SRC_FILE, SRC_ARGV };

/* The state of one config_load() run; gone when it returns. */
struct loader {
	struct config *c;
	FILE *err;
	int n_errors;
	enum source src;        /* of the value being applied now */
	enum source listen_src; /* of the entries in c->listen */
	enum source acl_src;    /* of the entries in c->acl */
	bool loopback_upstream_set;
	char why[256];          /* what is wrong with the last value; set by fail() */
};

typedef int (*set_fn)(struct loader *l, const char *value);

struct key {
	const char *name;
	const char *arg;  /* for --help; NULL: the flag takes no value */
	bool argv_only;   /* meaningless in a config file */
	set_fn set;       /* NULL: handled by config_load_io() itself */
	const char *help;
};

static void report(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One error line on l->err. The text may hold bytes from any file: control
 * characters are escaped so that a binary file given by mistake cannot drive
 * the terminal, and each line is bounded. */
static void report(struct loader *l, const char *fmt, ...)
{
	char line[512];
	l->n_errors++;
	if (l->n_errors > ERRORS_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			fprintf(l->err, "\\x%02x", *p);
		else
			fputc(*p, l->err);
	}
	fputs(n >= (int)sizeof(line) ? "...\n" : "\n", l->err);
	if (l->n_errors == ERRORS_MAX)
		fprintf(l->err, "ternd: too many errors, not showing more\n");
}

static int fail(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records what is wrong with a value; the caller prefixes where it came from. */
static int fail(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
	return TERN_ECONFIG;
}

/* Digits only: no sign, no spaces, no hex, so "-1" and " 5" are errors
 * rather than strtoul's surprises. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int set_range(struct loader *l, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!parse_uint(v, max, out) || *out < min)
		return fail(l, "'%s' is not a number between %llu and %llu", v,
			    (unsigned long long)min, (unsigned long long)max);
	return 0;
}

static int set_string(struct loader *l, char **field, const char *v)
{
	if (*v == '\0')
		return fail(l, "empty value");
	char *copy = strdup(v);
	if (!copy)
		return fail(l, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

static int set_yes_no(struct loader *l, const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else
		return fail(l, "'%s' is not yes or no", v);
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	if (!parse_uint(s, 65535, &v) || v == 0)
		return TERN_EMALFORMED;
	*port = (uint16_t)v;
	return 0;
}

/* "ADDR%SCOPE": the scope is an interface name or index (RFC 4007 11). */
static int parse_v6(char *host, struct sockaddr_in6 *sin6)
{
	char *pct = strchr(host, '%');
	if (pct) {
		*pct = '\0';
		uint64_t idx;
		if (parse_uint(pct + 1, UINT32_MAX, &idx))
			sin6->sin6_scope_id = (uint32_t)idx;
		else if ((sin6->sin6_scope_id = if_nametoindex(pct + 1)) == 0)
			return TERN_EMALFORMED;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return TERN_EMALFORMED;
	sin6->sin6_family = AF_INET6;
	return 0;
}

int config_parse_addr(const char *text, uint16_t default_port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	const char *port_text = NULL;
	bool bracketed = text[0] == '[';
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (bracketed) {
		/* "[V6]" or "[V6]:PORT": brackets because V6 has colons (RFC 3986 3.2.2) */
		const char *close = strchr(text, ']');
		if (!close)
			return TERN_EMALFORMED;
		n = (size_t)(close - text - 1);
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return TERN_EMALFORMED;
		text++;
	} else {
		const char *colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* two or more colons: a bare V6 address */
		n = colon ? (size_t)(colon - text) : strlen(text);
		if (colon)
			port_text = colon + 1;
	}
	if (n == 0 || n >= sizeof(host))
		return TERN_EMALFORMED;
	memcpy(host, text, n);
	host[n] = '\0';

	uint16_t port = default_port;
	if (port_text && parse_port(port_text, &port) != 0)
		return TERN_EMALFORMED;

	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	/* inet_pton, not getaddrinfo: "127.1" and names must not slip through */
	if (!strchr(host, ':')) {
		if (bracketed || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return TERN_EMALFORMED;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (parse_v6(host, sin6) != 0)
		return TERN_EMALFORMED;
	sin6->sin6_port = htons(port);
	*len = sizeof(*sin6);
	return 0;
}

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* The family and bytes to match @sa on; an IPv4 client on an IPv6 socket
 * arrives as ::ffff:a.b.c.d (RFC 4291 2.5.5.2) and counts as IPv4. */
static int addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
			memcpy(out, a + 12, 4);
			return AF_INET;
		}
		memcpy(out, a, 16);
		return AF_INET6;
	}
	return AF_UNSPEC;
}

bool addr_is_loopback(const struct sockaddr *sa)
{
	uint8_t a[16];
	switch (addr_bytes(sa, a)) {
	case AF_INET:
		return a[0] == 127; /* RFC 1122 3.2.1.3: all of 127/8 */
	case AF_INET6:
		return memcmp(a, &in6addr_loopback, 16) == 0;
	}
	return false;
}

static bool prefix_covers(const uint8_t *prefix, const uint8_t *addr, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(prefix, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (prefix[whole] & mask) == (addr[whole] & mask);
}

bool config_acl_allows(const struct config *c, const struct sockaddr *sa)
{
	uint8_t a[16];
	int family = addr_bytes(sa, a);
	for (int i = 0; i < c->n_acl; i++) {
		const struct prefix *p = &c->acl[i];
		if (p->family == family && prefix_covers(p->addr, a, p->bits))
			return true;
	}
	return false;
}

/* "ADDR/BITS" or "ADDR" (a host prefix). Bits past the length are cleared,
 * and ::ffff:0:0/96 and longer becomes the IPv4 prefix it stands for, to
 * match the way addr_bytes() sees clients. */
static int parse_prefix(const char *text, struct prefix *p)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(host))
		return TERN_EMALFORMED;
	memcpy(host, text, n);
	host[n] = '\0';

	memset(p, 0, sizeof(*p));
	unsigned max_bits;
	if (inet_pton(AF_INET, host, p->addr) == 1) {
		p->family = AF_INET;
		max_bits = 32;
	} else if (inet_pton(AF_INET6, host, p->addr) == 1) {
		p->family = AF_INET6;
		max_bits = 128;
	} else {
		return TERN_EMALFORMED;
	}
	uint64_t bits = max_bits;
	if (slash && !parse_uint(slash + 1, max_bits, &bits))
		return TERN_EMALFORMED;
	p->bits = (uint8_t)bits;

	for (unsigned i = p->bits; i < max_bits; i++)
		p->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	if (p->family == AF_INET6 && p->bits >= 96 &&
	    memcmp(p->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		memmove(p->addr, p->addr + 12, 4);
		memset(p->addr + 4, 0, 12);
		p->family = AF_INET;
		p->bits -= 96;
	}
	return 0;
}

static int set_listen(struct loader *l, const char *v)
{
	struct config *c = l->c;
	struct listen_addr a = { .is_default = false };
	/* the scheme names the transport (issue #4): tools may rely on these */
	static const struct {
		const char *scheme;
		enum listen_kind kind;
		uint16_t port;
	} schemes[] = {
		{ "tls://", LISTEN_TLS, 853 },    /* RFC 7858 */
		{ "https://", LISTEN_HTTPS, 443 }, /* RFC 8484 */
		{ "http://", LISTEN_HTTP, 80 },    /* behind a reverse proxy */
	};
	uint16_t port = DNS_PORT;
	const char *addr = v;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);
		if (strncmp(v, schemes[i].scheme, n) == 0) {
			a.kind = schemes[i].kind;
			port = schemes[i].port;
			addr = v + n;
			break;
		}
	}
	if (config_parse_addr(addr, port, &a.ss, &a.len) != 0)
		return fail(l, "'%s' is not ADDR, ADDR:PORT or [ADDR]:PORT (port 1-65535), "
			    "optionally after tls://, https:// or http://", v);
	if (l->listen_src != l->src) {
		c->n_listen = 0;
		l->listen_src = l->src;
	}
	for (int i = 0; i < c->n_listen; i++)
		if (c->listen[i].len == a.len && memcmp(&c->listen[i].ss, &a.ss, a.len) == 0)
			return fail(l, "'%s' is listed twice", v);
	if (c->n_listen == CONFIG_LISTEN_MAX)
		return fail(l, "more than %d addresses", CONFIG_LISTEN_MAX);
	c->listen[c->n_listen++] = a;
	return 0;
}

static int set_allow(struct loader *l, const char *v)
{
	struct config *c = l->c;
	struct prefix p;
	if (parse_prefix(v, &p) != 0)
		return fail(l, "'%s' is not an address or ADDR/BITS prefix", v);
	if (l->acl_src != l->src) {
		c->n_acl = 0;
		l->acl_src = l->src;
	}
	if (c->n_acl == CONFIG_ACL_MAX)
		return fail(l, "more than %d prefixes", CONFIG_ACL_MAX);
	c->acl[c->n_acl++] = p;
	return 0;
}

static int set_u32(struct loader *l, const char *v, uint64_t min, uint64_t max, uint32_t *field);

static int set_tls_cert(struct loader *l, const char *v)
{
	return set_string(l, &l->c->tls_cert_path, v);
}

static int set_tls_key(struct loader *l, const char *v)
{
	return set_string(l, &l->c->tls_key_path, v);
}

static int set_ddr_name(struct loader *l, const char *v)
{
	uint8_t name[NAME_MAX_WIRE];
	if (name_from_text(v, name) < 0 || name[0] == 0)
		return fail(l, "'%s' is not a domain name", v);
	return set_string(l, &l->c->ddr_name, v);
}

static int set_doh_path(struct loader *l, const char *v)
{
	/* an absolute path without query or fragment (RFC 8484 4.1: the URI template's path) */
	if (v[0] != '/' || strpbrk(v, "?#% \t") || strlen(v) > 128)
		return fail(l, "'%s' is not an absolute path like /dns-query (no ?, #, %%, spaces)", v);
	return set_string(l, &l->c->doh_path, v);
}

static int set_http_proxy(struct loader *l, const char *v)
{
	struct config *c = l->c;
	struct prefix p;
	if (parse_prefix(v, &p) != 0)
		return fail(l, "'%s' is not an address or ADDR/BITS prefix", v);
	if (c->n_http_proxies == CONFIG_ACL_MAX)
		return fail(l, "more than %d prefixes", CONFIG_ACL_MAX);
	c->http_proxies[c->n_http_proxies++] = p;
	return 0;
}

static int set_http_proxy_protocol(struct loader *l, const char *v)
{
	return set_yes_no(l, v, &l->c->http_proxy_protocol);
}

static int set_http_streams_max(struct loader *l, const char *v)
{
	return set_u32(l, v, 1, 1000, &l->c->http_streams_max);
}

static int set_root_hints(struct loader *l, const char *v)
{
	return set_string(l, &l->c->root_hints_path, v);
}

static int set_dnssec(struct loader *l, const char *v)
{
	return set_yes_no(l, v, &l->c->dnssec);
}

static int set_trust_anchor(struct loader *l, const char *v)
{
	return set_string(l, &l->c->trust_anchor_path, v);
}

static int set_negative_trust_anchor(struct loader *l, const char *v)
{
	uint8_t name[NAME_MAX_WIRE];
	if (name_from_text(v, name) < 0)
		return fail(l, "'%s' is not a domain name", v);
	name_lower(name);
	if (trust_anchor_add_negative(&l->c->anchors, name) < 0)
		return fail(l, "out of memory");
	return 0;
}

static int set_cache_dir(struct loader *l, const char *v)
{
	return set_string(l, &l->c->cache_dir, v);
}

static int set_threads(struct loader *l, const char *v)
{
	uint64_t n = 0;
	int ret = set_range(l, v, 1, THREADS_MAX, &n);
	if (ret == 0)
		l->c->threads = (int)n;
	return ret;
}

/* Bytes, or K, M, G: binary multiples, as LMDB's map size is in pages. */
static int set_cache_size(struct loader *l, const char *v)
{
	char digits[32];
	size_t n = strlen(v), shift = 0;
	if (n > 0 && strchr("KkMmGg", v[n - 1])) {
		shift = strchr("Kk", v[n - 1]) ? 10 : strchr("Mm", v[n - 1]) ? 20 : 30;
		n--;
	}
	uint64_t size;
	if (n >= sizeof(digits))
		goto bad;
	memcpy(digits, v, n);
	digits[n] = '\0';
	if (!parse_uint(digits, (uint64_t)SIZE_MAX >> shift, &size) ||
	    (size << shift) < CACHE_SIZE_MIN)
		goto bad;
	l->c->cache_size = (size_t)(size << shift);
	return 0;
bad:
	return fail(l, "'%s' is not a size of at least 1M (bytes, or a number with K, M or G)", v);
}

static int set_qmin(struct loader *l, const char *v)
{
	if (strcmp(v, "off") == 0)
		l->c->qmin = QMIN_OFF;
	else if (strcmp(v, "relaxed") == 0)
		l->c->qmin = QMIN_RELAXED;
	else if (strcmp(v, "strict") == 0)
		l->c->qmin = QMIN_STRICT;
	else
		return fail(l, "'%s' is not off, relaxed or strict", v);
	return 0;
}

static int set_upstream_ipv4(struct loader *l, const char *v)
{
	return set_yes_no(l, v, &l->c->upstream_ipv4);
}

static int set_upstream_ipv6(struct loader *l, const char *v)
{
	return set_yes_no(l, v, &l->c->upstream_ipv6);
}

static int set_loopback_upstream(struct loader *l, const char *v)
{
	int ret = set_yes_no(l, v, &l->c->allow_loopback_upstream);
	if (ret == 0)
		l->loopback_upstream_set = true;
	return ret;
}

static int set_u32(struct loader *l, const char *v, uint64_t min, uint64_t max, uint32_t *field)
{
	uint64_t n = 0;
	int ret = set_range(l, v, min, max, &n);
	if (ret == 0)
		*field = (uint32_t)n;
	return ret;
}

static int set_ttl_min(struct loader *l, const char *v)
{
	return set_u32(l, v, 0, TTL_MAX_S, &l->c->ttl_min_s);
}

static int set_ttl_max(struct loader *l, const char *v)
{
	return set_u32(l, v, 0, TTL_MAX_S, &l->c->ttl_max_s);
}

static int set_neg_ttl_max(struct loader *l, const char *v)
{
	return set_u32(l, v, 0, TTL_MAX_S, &l->c->neg_ttl_max_s);
}

static int set_serve_stale(struct loader *l, const char *v)
{
	return set_u32(l, v, 0, TTL_MAX_S, &l->c->serve_stale_s);
}

static int set_prefetch(struct loader *l, const char *v)
{
	return set_yes_no(l, v, &l->c->prefetch);
}

static int set_edns_udp_size(struct loader *l, const char *v)
{
	uint32_t n = 0;
	int ret = set_u32(l, v, EDNS_UDP_SIZE_MIN, EDNS_UDP_SIZE_MAX, &n);
	if (ret == 0)
		l->c->edns_udp_size = (uint16_t)n;
	return ret;
}

static int set_tcp_idle_timeout(struct loader *l, const char *v)
{
	return set_u32(l, v, 1, TCP_IDLE_TIMEOUT_MAX_MS, &l->c->tcp_idle_timeout_ms);
}

static int set_tcp_conn_max(struct loader *l, const char *v)
{
	return set_u32(l, v, 1, TCP_CONN_MAX, &l->c->tcp_conn_max);
}

static int set_verbosity(struct loader *l, const char *v)
{
	uint64_t n = 0;
	int ret = set_range(l, v, 0, VERBOSITY_MAX, &n);
	if (ret == 0)
		l->c->verbosity = (int)n;
	return ret;
}

static int set_policy(struct loader *l, const char *v)
{
	return set_string(l, &l->c->policy_path, v);
}

#define POLICY_MEMORY_MIN (1024 * 1024) /* SIZE syntax shared with cache-size */
#define POLICY_MEMORY_MAX ((size_t)1 << 30)
#define POLICY_INSTRUCTIONS_MAX 1000000000ull
#define POLICY_TIMEOUT_MAX_MS 1000 /* a DNS client gives up after a few seconds */

static int set_policy_memory_max(struct loader *l, const char *v)
{
	size_t saved = l->c->cache_size;
	int rc = set_cache_size(l, v); /* the same SIZE syntax */
	size_t size = l->c->cache_size;
	l->c->cache_size = saved;
	if (rc == 0 && (size < POLICY_MEMORY_MIN || size > POLICY_MEMORY_MAX))
		rc = -1;
	if (rc != 0)
		return fail(l, "'%s' is not a size between 1M and 1G", v);
	l->c->policy_memory_max = size;
	return 0;
}

static int set_policy_instructions_max(struct loader *l, const char *v)
{
	return set_range(l, v, 1000, POLICY_INSTRUCTIONS_MAX, &l->c->policy_instructions_max);
}

static int set_policy_timeout(struct loader *l, const char *v)
{
	return set_u32(l, v, 1, POLICY_TIMEOUT_MAX_MS, &l->c->policy_timeout_ms);
}

static int set_policy_failure(struct loader *l, const char *v)
{
	if (strcmp(v, "open") == 0)
		l->c->policy_fail_closed = false;
	else if (strcmp(v, "closed") == 0)
		l->c->policy_fail_closed = true;
	else
		return fail(l, "'%s' is not open or closed", v);
	return 0;
}

/* "MATCH FILE": MATCH is a DoH path ("/dns-query/family") or client prefixes
 * separated by commas ("10.0.0.0/8,2001:db8::/32") */
static int set_tenant(struct loader *l, const char *v)
{
	struct config *c = l->c;
	size_t mlen = strcspn(v, " \t");
	const char *file = v + mlen;
	while (*file == ' ' || *file == '\t')
		file++;
	if (mlen == 0 || *file == '\0')
		return fail(l, "'%s' is not MATCH FILE (a /DoH-path or client prefixes, then a script)", v);
	if (c->n_tenants == CONFIG_TENANTS_MAX)
		return fail(l, "more than %d tenants", CONFIG_TENANTS_MAX);
	struct tenant t = { 0 };
	if (v[0] == '/') {
		t.path = strndup(v, mlen);
		if (!t.path)
			return fail(l, "out of memory");
	} else {
		t.clients = prefixset_new();
		if (!t.clients)
			return fail(l, "out of memory");
		char one[64];
		for (const char *p = v; p < v + mlen;) {
			size_t n = strcspn(p, ", \t");
			if (n == 0 || n >= sizeof(one) || (memcpy(one, p, n), one[n] = '\0',
							  prefixset_add(t.clients, one) != 0)) {
				prefixset_free(t.clients);
				return fail(l, "'%.*s' is not a /DoH-path or ADDR/BITS prefixes", (int)mlen, v);
			}
			p += n + (p[n] == ',');
		}
	}
	t.script = strdup(file);
	if (!t.script) {
		free(t.path);
		prefixset_free(t.clients);
		return fail(l, "out of memory");
	}
	c->tenants[c->n_tenants++] = t;
	return 0;
}

/* Every flag, in the order --help lists them; man/ternd.8 and man/ternd.conf.5
 * document each one: keep the three in step. */
static const struct key keys[] = {
	{ "config", "FILE", true, NULL, "settings file, read before the other flags" },
	{ "listen", "ADDR[:PORT]", false, set_listen,
	  "repeatable; default 127.0.0.1:53, [::1]:53; tls://, https://, http:// for DoT, DoH" },
	{ "tls-cert", "FILE", false, set_tls_cert, "PEM certificate chain for tls:// and https://" },
	{ "tls-key", "FILE", false, set_tls_key, "PEM private key of --tls-cert" },
	{ "doh-path", "PATH", false, set_doh_path, "DoH URI path; default /dns-query" },
	{ "ddr-name", "NAME", false, set_ddr_name,
	  "the name in the TLS certificate: answer _dns.resolver.arpa SVCB (RFC 9462); default off" },
	{ "http-proxy", "PREFIX", false, set_http_proxy,
	  "reverse proxy allowed on http:// listeners; repeatable; default loopback" },
	{ "http-proxy-protocol", "yes|no", false, set_http_proxy_protocol,
	  "proxies must begin with a PROXY v2 header (else optional); default no" },
	{ "http-streams-max", "N", false, set_http_streams_max,
	  "concurrent HTTP/2 streams per connection; default 100" },
	{ "allow", "PREFIX", false, set_allow, "client prefix; repeatable; default loopback" },
	{ "root-hints", "FILE", false, set_root_hints, "default " ROOT_HINTS_DEFAULT },
	{ "threads", "N", false, set_threads, "workers, 1-256; default one per core" },
	{ "dnssec", "yes|no", false, set_dnssec, "validate DNSSEC; default yes" },
	{ "trust-anchor", "FILE", false, set_trust_anchor,
	  "DS or DNSKEY records of the root (or any zone); default " TRUST_ANCHOR_ROOT_KEY },
	{ "negative-trust-anchor", "NAME", false, set_negative_trust_anchor,
	  "do not validate at or below NAME; repeatable" },
	{ "cache-dir", "DIR", false, set_cache_dir, "default " CACHE_DIR_DEFAULT },
	{ "cache-size", "SIZE", false, set_cache_size, "bytes, or with K, M, G; default 512M" },
	{ "qname-minimisation", "MODE", false, set_qmin, "off, relaxed or strict; default relaxed" },
	{ "upstream-ipv4", "yes|no", false, set_upstream_ipv4, "query servers over IPv4; default yes" },
	{ "upstream-ipv6", "yes|no", false, set_upstream_ipv6, "query servers over IPv6; default yes" },
	{ "allow-loopback-upstream", "yes|no", false, set_loopback_upstream,
	  "default yes if all root hints are loopback" },
	{ "ttl-min", "SECONDS", false, set_ttl_min, "raise shorter TTLs to this; default 0" },
	{ "ttl-max", "SECONDS", false, set_ttl_max, "cap longer TTLs at this; default 86400" },
	{ "negative-ttl-max", "SECONDS", false, set_neg_ttl_max,
	  "cap negative-answer TTLs; default 3600" },
	{ "serve-stale", "SECONDS", false, set_serve_stale,
	  "answer expired data for this long when upstreams fail (RFC 8767), 0: off; default 86400" },
	{ "prefetch", "yes|no", false, set_prefetch,
	  "refresh popular records before they expire; default yes" },
	{ "edns-udp-size", "BYTES", false, set_edns_udp_size, "512-4096; default 1232" },
	{ "tcp-idle-timeout", "MS", false, set_tcp_idle_timeout,
	  "close idle TCP after MS; default 10000" },
	{ "tcp-connections-max", "N", false, set_tcp_conn_max,
	  "TCP connections per worker; default 1000" },
	{ "policy", "FILE", false, set_policy, "policy script for every client, see tern-policy(7)" },
	{ "policy-memory-max", "SIZE", false, set_policy_memory_max,
	  "memory of each policy isolate; default 16M" },
	{ "policy-instructions-max", "N", false, set_policy_instructions_max,
	  "Lua instructions per policy call; default 1000000" },
	{ "policy-timeout", "MS", false, set_policy_timeout, "wall clock per policy call; default 10" },
	{ "policy-failure", "open|closed", false, set_policy_failure,
	  "a failing script: resolve anyway (open) or SERVFAIL (closed); default open" },
	{ "tenant", "\"MATCH FILE\"", false, set_tenant,
	  "script FILE for a /DoH-path or client PREFIX[,PREFIX]; repeatable" },
	{ "verbosity", "0-3", false, set_verbosity, "errors, warnings, info, debug; default 2" },
	{ "check-config", NULL, true, NULL, "check config and root hints, then exit" },
	{ "help", NULL, true, NULL, "print this help and exit" },
	{ "version", NULL, true, NULL, "print the version and exit" },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *key_find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	fprintf(out, "Usage: ternd [--config FILE] [--FLAG VALUE]...\n"
		     "A recursive DNS resolver. Each flag is also a config file key, see\n"
		     "ternd.conf(5); flags override the file. --FLAG=VALUE works too.\n\n");
	for (size_t i = 0; i < N_KEYS; i++) {
		char left[48];
		snprintf(left, sizeof(left), "--%s%s%s", keys[i].name, keys[i].arg ? " " : "",
			 keys[i].arg ? keys[i].arg : "");
		fprintf(out, "  %-33s %s\n", left, keys[i].help);
	}
}

static int set_defaults(struct config *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = cores < 1 ? 1 : cores > THREADS_MAX ? THREADS_MAX : (int)cores;

	static const char *const listen[] = { "127.0.0.1", "::1" };
	for (size_t i = 0; i < sizeof(listen) / sizeof(listen[0]); i++) {
		struct listen_addr *a = &c->listen[c->n_listen++];
		if (config_parse_addr(listen[i], DNS_PORT, &a->ss, &a->len) != 0)
			return TERN_ECONFIG;
		a->is_default = true;
	}
	/* not an open resolver by default: open ones are amplifiers (RFC 5358) */
	static const char *const acl[] = { "127.0.0.0/8", "::1/128" };
	for (size_t i = 0; i < sizeof(acl) / sizeof(acl[0]); i++)
		if (parse_prefix(acl[i], &c->acl[c->n_acl++]) != 0)
			return TERN_ECONFIG;

	c->root_hints_path = strdup(ROOT_HINTS_DEFAULT);
	c->dnssec = true;
	c->cache_dir = strdup(CACHE_DIR_DEFAULT);
	if (!c->root_hints_path || !c->cache_dir)
		return -ENOMEM;
	c->cache_size = CACHE_SIZE_DEFAULT;
	c->qmin = QMIN_RELAXED;
	c->upstream_ipv4 = true;
	c->upstream_ipv6 = true;
	c->ttl_min_s = 0;
	c->ttl_max_s = 86400;
	c->neg_ttl_max_s = 3600; /* RFC 2308 5: one to three hours */
	c->serve_stale_s = 86400; /* RFC 8767 5: one to three days */
	c->prefetch = true;
	c->edns_udp_size = 1232; /* DNS flag day 2020: fits the IPv6 minimum MTU */
	c->tcp_idle_timeout_ms = 10000;
	c->tcp_conn_max = 1000;
	c->http_streams_max = 100; /* RFC 9113 6.5.2 recommends at least 100 */
	c->doh_path = strdup("/dns-query");
	if (!c->doh_path)
		return -ENOMEM;
	c->verbosity = 2;
	c->policy_memory_max = 16 * 1024 * 1024;
	c->policy_instructions_max = 1000000;
	c->policy_timeout_ms = 10;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* One "key value" line, already stripped of its comment and trimmed. */
static void load_line(struct loader *l, const char *path, unsigned line_nr, char *line)
{
	size_t klen = strcspn(line, " \t\r\v\f");
	char *value = trim(line + klen);
	const struct key *k = key_find(line, klen);
	line[klen] = '\0';
	if (!k) {
		report(l, "%s:%u: unknown key '%s'", path, line_nr, line);
	} else if (k->argv_only) {
		report(l, "%s:%u: '%s' is only allowed on the command line", path, line_nr, k->name);
	} else if (*value == '\0') {
		report(l, "%s:%u: %s: missing value", path, line_nr, k->name);
	} else if (k->set(l, value) != 0) {
		report(l, "%s:%u: %s: %s", path, line_nr, k->name, l->why);
	}
}

static void load_file(struct loader *l, const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		report(l, "%s: %s", path, strerror(errno));
		return;
	}
	l->src = SRC_FILE;
	char *line = NULL;
	size_t cap = 0;
	unsigned line_nr = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		line_nr++;
		if (strlen(line) != (size_t)n) {
			report(l, "%s:%u: contains a NUL byte", path, line_nr);
			continue;
		}
		line[strcspn(line, "#")] = '\0';
		char *text = trim(line);
		if (*text != '\0')
			load_line(l, path, line_nr, text);
	}
	if (ferror(fp))
		report(l, "%s: %s", path, strerror(errno)); /* getline set it: EISDIR, EIO */
	free(line);
	fclose(fp);
}

static void add_hint(struct config *c, const ldns_rr *rr)
{
	if (c->n_hints == CONFIG_HINTS_MAX)
		return;
	const ldns_rdf *owner = ldns_rr_owner(rr);
	const ldns_rdf *rdata = ldns_rr_rdf(rr, 0);
	struct hint *h = &c->hints[c->n_hints];
	memset(h, 0, sizeof(*h));
	if (!rdata || ldns_rdf_size(owner) > sizeof(h->name))
		return;
	memcpy(h->name, ldns_rdf_data(owner), ldns_rdf_size(owner));
	for (uint8_t *p = h->name; *p; p += *p + 1) /* owner is a valid wire name */
		for (unsigned i = 1; i <= *p; i++)
			p[i] = (uint8_t)tolower(p[i]);

	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(rdata) == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&h->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(DNS_PORT);
		memcpy(&sin->sin_addr, ldns_rdf_data(rdata), 4);
		h->len = sizeof(*sin);
	} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rdata) == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&h->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(DNS_PORT);
		memcpy(&sin6->sin6_addr, ldns_rdf_data(rdata), 16);
		h->len = sizeof(*sin6);
	} else {
		return;
	}
	c->n_hints++;
}

static bool is_root_ns(const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS && ldns_rdf_size(ldns_rr_owner(rr)) == 1 &&
	       ldns_rr_rdf(rr, 0);
}

static bool names_a_root_server(const ldns_rr_list *rrs, const ldns_rr *rr)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *ns = ldns_rr_list_rr(rrs, i);
		if (is_root_ns(ns) && ldns_dname_compare(ldns_rr_rdf(ns, 0), ldns_rr_owner(rr)) == 0)
			return true;
	}
	return false;
}

/* Zone-file format (RFC 1035 5), as in Debian's dns-root-data: ". NS name"
 * records and the A/AAAA records of those names. Other records are ignored. */
static void load_hints(struct loader *l, const char *path)
{
	struct config *c = l->c;
	FILE *fp = fopen(path, "r");
	if (!fp) {
		report(l, "%s: %s", path, strerror(errno));
		return;
	}
	ldns_rr_list *rrs = ldns_rr_list_new();
	ldns_rdf *origin = ldns_dname_new_frm_str(".");
	ldns_rdf *prev = NULL;
	uint32_t ttl = 3600;
	int line_nr = 1;
	if (!rrs || !origin) {
		report(l, "%s: out of memory", path);
		goto out;
	}
	while (!feof(fp) && !ferror(fp)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line_nr);
		switch (s) {
		case LDNS_STATUS_OK:
			if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || !ldns_rr_list_push_rr(rrs, rr))
				ldns_rr_free(rr);
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			/* the hints come from one file, so --check-config checks all of them */
			report(l, "%s:%d: $INCLUDE is not supported", path,
			       feof(fp) ? line_nr : line_nr - 1);
			break;
		default:
			/* ldns has counted the line's newline unless the file ended first */
			report(l, "%s:%d: %s", path, feof(fp) ? line_nr : line_nr - 1,
			       ldns_get_errorstr_by_id(s));
			ldns_rr_free(rr);
			break;
		}
	}
	if (ferror(fp)) {
		report(l, "%s: %s", path, strerror(errno));
		goto out;
	}

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && names_a_root_server(rrs, rr))
			add_hint(c, rr);
	}
	if (c->n_hints == 0) {
		report(l, "%s: no root server addresses (need '. NS name' and A or AAAA records for name)",
		       path);
		goto out;
	}
	c->hints_on_loopback = true;
	bool usable = false;
	for (int i = 0; i < c->n_hints; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->hints[i].ss;
		c->hints_on_loopback &= addr_is_loopback(sa);
		usable |= sa->sa_family == AF_INET ? c->upstream_ipv4 : c->upstream_ipv6;
	}
	if (!l->loopback_upstream_set)
		c->allow_loopback_upstream = c->hints_on_loopback;
	if (!usable)
		report(l, "%s: no root server address of a family that upstream-ipv4/upstream-ipv6 allow",
		       path);
	else if (c->hints_on_loopback && !c->allow_loopback_upstream)
		report(l, "%s: every root server is on loopback, but allow-loopback-upstream is no", path);
out:
	ldns_rr_list_deep_free(rrs);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	fclose(fp);
}

/* A command-line flag, split but not applied yet: --config must be read
 * before the flags that override it. */
struct flag {
	const struct key *k;
	const char *value;
};

/* Splits argv into @flags; returns how many, after reporting every bad one. */
static int split_argv(struct loader *l, int argc, char **argv, struct flag *flags)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (arg[0] != '-') {
			report(l, "ternd: '%s': unexpected argument (flags start with --)", arg);
			continue;
		}
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct key *k = arg[1] == '-' ? key_find(arg + 2, len - 2) : NULL;
		if (!k) {
			report(l, "ternd: %.*s: unknown flag", (int)len, arg);
			continue;
		}
		const char *value = eq ? eq + 1 : NULL;
		if (!k->arg && value) {
			report(l, "ternd: --%s: takes no value", k->name);
			continue;
		}
		/* "--listen --threads 4" is a forgotten value, not a listen address */
		if (k->arg && !value && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
			value = argv[++i];
		if (k->arg && !value) {
			report(l, "ternd: --%s: missing value", k->name);
			continue;
		}
		flags[n++] = (struct flag){ k, value };
	}
	return n;
}

enum config_action config_load_io(struct config *c, int argc, char **argv, FILE *out, FILE *err)
{
	struct loader l = { .c = c, .err = err };
	bool help = false, version = false;
	enum config_action action = CONFIG_EXIT_FAIL;
	struct flag *flags = NULL;

	memset(c, 0, sizeof(*c));
	if (set_defaults(c) != 0)
		goto fail_oom;
	flags = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*flags));
	if (!flags)
		goto fail_oom;

	int n_flags = split_argv(&l, argc, argv, flags);
	for (int i = 0; i < n_flags; i++) {
		const char *name = flags[i].k->name;
		help |= strcmp(name, "help") == 0;
		version |= strcmp(name, "version") == 0;
		c->check_only |= strcmp(name, "check-config") == 0;
		if (strcmp(name, "config") == 0 && set_string(&l, &c->config_path, flags[i].value) != 0)
			report(&l, "ternd: --config: %s", l.why);
	}
	/* with bad flags, go on only to report the rest; never act on --help */
	if (!l.n_errors && (help || version)) {
		if (help)
			print_usage(out);
		else
			fprintf(out, "ternd %s\n", TERN_VERSION);
		action = CONFIG_EXIT_OK;
		goto out;
	}

	if (c->config_path)
		load_file(&l, c->config_path);
	l.src = SRC_ARGV;
	for (int i = 0; i < n_flags; i++)
		if (flags[i].k->set && flags[i].k->set(&l, flags[i].value) != 0)
			report(&l, "ternd: --%s: %s", flags[i].k->name, l.why);

	if (c->ttl_min_s > c->ttl_max_s)
		report(&l, "ternd: ttl-min (%u) is greater than ttl-max (%u)", c->ttl_min_s,
		       c->ttl_max_s);
	if (!c->upstream_ipv4 && !c->upstream_ipv6)
		report(&l, "ternd: upstream-ipv4 and upstream-ipv6 are both no");
	/* hints read with a half-applied config would only add confusing errors */
	if (l.n_errors)
		goto out;
	load_hints(&l, c->root_hints_path);
	if (l.n_errors)
		goto out;
	if (c->dnssec) {
		char why[512];
		const char *ta = c->trust_anchor_path ? c->trust_anchor_path : TRUST_ANCHOR_ROOT_KEY;
		if (trust_anchor_load(&c->anchors, ta, why, sizeof(why)) < 0)
			report(&l, "%s", why);
		else if (c->anchors.n_anchors == 0)
			report(&l, "%s: no DS or DNSKEY records (or set dnssec no)", ta);
		if (l.n_errors)
			goto out;
	}

	/* the policy scripts compile and their top level runs (as a worker loads them) */
	if (c->check_only && policy_check) {
		char why[512];
		if (policy_check(c, why, sizeof(why)) < 0) {
			report(&l, "%s", why);
			goto out;
		}
	}

	action = CONFIG_RUN;
	if (c->check_only) {
		fprintf(out, "ternd: configuration OK\n");
		action = CONFIG_EXIT_OK;
	}
	goto out;
fail_oom:
	report(&l, "ternd: out of memory");
out:
	free(flags);
	fflush(out);
	fflush(err);
	return action;
}

enum config_action config_load(struct config *c, int argc, char **argv)
{
	return config_load_io(c, argc, argv, stdout, stderr);
}

void config_free(struct config *c)
{
	free(c->config_path);
	free(c->root_hints_path);
	free(c->trust_anchor_path);
	free(c->ddr_name);
	c->ddr_name = NULL;
	trust_anchors_free(&c->anchors);
	free(c->cache_dir);
	free(c->tls_cert_path);
	free(c->tls_key_path);
	free(c->doh_path);
	c->tls_cert_path = c->tls_key_path = c->doh_path = NULL;
	free(c->policy_path);
	c->policy_path = NULL;
	for (int i = 0; i < c->n_tenants; i++) {
		free(c->tenants[i].path);
		prefixset_free(c->tenants[i].clients);
		free(c->tenants[i].script);
	}
	c->n_tenants = 0;
	c->config_path = NULL;
	c->root_hints_path = NULL;
	c->trust_anchor_path = NULL;
	c->cache_dir = NULL;
}
