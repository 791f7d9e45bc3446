/* resolver/prefixset: see prefixset.h. A plain array scanned longest prefix
 * first: client sets in policies are short (a few networks). A set of many
 * thousands of prefixes would want a trie (TODO #5). */
#include "resolver/prefixset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define PREFIXSET_MAX 65536

struct entry {
	int family;
	uint8_t addr[16];
	uint8_t bits;
};

struct prefixset {
	struct entry *e;
	size_t n, cap;
};

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

struct prefixset *prefixset_new(void)
{
	return calloc(1, sizeof(struct prefixset));
}

void prefixset_free(struct prefixset *s)
{
	if (!s)
		return;
	free(s->e);
	free(s);
}

size_t prefixset_count(const struct prefixset *s)
{
	return s->n;
}

static int by_bits_desc(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (int)y->bits - (int)x->bits;
}

int prefixset_add(struct prefixset *s, const char *text)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(host))
		return TERN_EMALFORMED;
	memcpy(host, text, n);
	host[n] = '\0';
	struct entry e = { 0 };
	unsigned max;
	if (inet_pton(AF_INET, host, e.addr) == 1) {
		e.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, e.addr) == 1) {
		e.family = AF_INET6;
		max = 128;
	} else {
		return TERN_EMALFORMED;
	}
	unsigned bits = max;
	if (slash) {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return TERN_EMALFORMED;
		bits = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return TERN_EMALFORMED;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > max)
			return TERN_EMALFORMED;
	}
	e.bits = (uint8_t)bits;
	for (unsigned i = bits; i < max; i++)
		e.addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	if (e.family == AF_INET6 && e.bits >= 96 && memcmp(e.addr, v4_mapped, 12) == 0) {
		memmove(e.addr, e.addr + 12, 4);
		memset(e.addr + 4, 0, 12);
		e.family = AF_INET;
		e.bits = (uint8_t)(e.bits - 96);
	}
	if (s->n == PREFIXSET_MAX)
		return TERN_ELIMIT;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct entry *ne = realloc(s->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = cap;
	}
	s->e[s->n++] = e;
	qsort(s->e, s->n, sizeof(*s->e), by_bits_desc);
	return 0;
}

static bool covers(const struct entry *e, const uint8_t *a)
{
	unsigned whole = e->bits / 8, rest = e->bits % 8;
	if (memcmp(e->addr, a, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (e->addr[whole] & mask) == (a[whole] & mask);
}

static int match_bytes(const struct prefixset *s, int family, const uint8_t *a)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].family == family && covers(&s->e[i], a))
			return s->e[i].bits; /* sorted: the first is the longest */
	return -1;
}

int prefixset_match(const struct prefixset *s, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return match_bytes(s, AF_INET, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, v4_mapped, 12) == 0)
			return match_bytes(s, AF_INET, a + 12);
		return match_bytes(s, AF_INET6, a);
	}
	return -1;
}

bool prefixset_covers(const struct prefixset *s, const struct sockaddr *sa)
{
	return prefixset_match(s, sa) >= 0;
}

bool prefixset_covers_text(const struct prefixset *s, const char *text)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, text, a) == 1)
		return match_bytes(s, AF_INET, a) >= 0;
	if (inet_pton(AF_INET6, text, a) == 1) {
		if (memcmp(a, v4_mapped, 12) == 0)
			return match_bytes(s, AF_INET, a + 12) >= 0;
		return match_bytes(s, AF_INET6, a) >= 0;
	}
	return false;
}
