/* resolver/servers: per-worker RTT and back-off table; see servers.h.
 * SRTT/RTTVAR follow RFC 6298 (alpha 1/8, beta 1/4). A timeout doubles the
 * penalty and puts the address in back-off, so a dead server costs one timeout,
 * not one per query; after the back-off it is probed again. */
#include "resolver/servers.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SERVERS_SLOTS 4096         /* direct-mapped, lossy */
#define RTT_UNKNOWN_MS 40          /* unknown servers look fast: probe them */
#define RTT_MAX_MS 3000
#define TIMEOUT_MIN_MS 250
#define TIMEOUT_MAX_MS 1500        /* several tries fit in a client's 5 s */
#define TIMEOUT_UNKNOWN_MS 800
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS 120000      /* a dead server is retried within two minutes */

struct server_info {
	uint8_t key[18]; /* family-tagged address and port */
	bool used;
	uint32_t srtt_ms, rttvar_ms;
	uint8_t timeouts; /* in a row */
	uint64_t backoff_until_ms;
};

struct servers {
	struct server_info slots[SERVERS_SLOTS];
};

struct servers *servers_new(void)
{
	return calloc(1, sizeof(struct servers));
}

void servers_free(struct servers *s)
{
	free(s);
}

static void make_key(const struct sockaddr *sa, uint8_t key[18])
{
	memset(key, 0, 18);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(key, &in->sin_addr, 4);
		memcpy(key + 16, &in->sin_port, 2);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &in6->sin6_addr, 16);
		memcpy(key + 16, &in6->sin6_port, 2);
		key[0] ^= 0x80; /* keep v6 keys apart from v4 ones with the same bytes */
	}
}

static struct server_info *slot(struct servers *s, const struct sockaddr *sa, bool create)
{
	uint8_t key[18];
	make_key(sa, key);
	uint32_t h = 2166136261u;
	for (int i = 0; i < 18; i++)
		h = (h ^ key[i]) * 16777619u;
	struct server_info *si = &s->slots[h % SERVERS_SLOTS];
	if (si->used && memcmp(si->key, key, 18) == 0)
		return si;
	if (!create)
		return NULL;
	memset(si, 0, sizeof(*si));
	memcpy(si->key, key, 18);
	si->used = true;
	si->srtt_ms = RTT_UNKNOWN_MS;
	si->rttvar_ms = RTT_UNKNOWN_MS / 2;
	return si;
}

uint32_t servers_score(struct servers *s, const struct sockaddr *sa, uint64_t now_ms)
{
	struct server_info *si = slot(s, sa, false);
	if (!si)
		return RTT_UNKNOWN_MS;
	if (si->backoff_until_ms > now_ms)
		return RTT_MAX_MS * 10 + si->timeouts;
	return si->srtt_ms;
}

uint32_t servers_timeout_ms(struct servers *s, const struct sockaddr *sa)
{
	struct server_info *si = slot(s, sa, false);
	if (!si || si->timeouts > 0)
		return TIMEOUT_UNKNOWN_MS;
	uint32_t rto = si->srtt_ms + 4 * si->rttvar_ms;
	if (rto < TIMEOUT_MIN_MS)
		rto = TIMEOUT_MIN_MS;
	if (rto > TIMEOUT_MAX_MS)
		rto = TIMEOUT_MAX_MS;
	return rto;
}

void servers_rtt(struct servers *s, const struct sockaddr *sa, uint32_t rtt_ms)
{
	struct server_info *si = slot(s, sa, true);
	if (rtt_ms > RTT_MAX_MS)
		rtt_ms = RTT_MAX_MS;
	if (si->timeouts > 0 || si->srtt_ms == RTT_UNKNOWN_MS) {
		si->srtt_ms = rtt_ms;
		si->rttvar_ms = rtt_ms / 2;
	} else {
		uint32_t diff = si->srtt_ms > rtt_ms ? si->srtt_ms - rtt_ms : rtt_ms - si->srtt_ms;
		si->rttvar_ms = (3 * si->rttvar_ms + diff) / 4;
		si->srtt_ms = (7 * si->srtt_ms + rtt_ms) / 8;
	}
	si->timeouts = 0;
	si->backoff_until_ms = 0;
}

void servers_timeout(struct servers *s, const struct sockaddr *sa, uint64_t now_ms)
{
	struct server_info *si = slot(s, sa, true);
	if (si->timeouts < 16)
		si->timeouts++;
	uint64_t backoff = (uint64_t)BACKOFF_BASE_MS << (si->timeouts - 1);
	if (backoff > BACKOFF_MAX_MS)
		backoff = BACKOFF_MAX_MS;
	si->backoff_until_ms = now_ms + backoff;
	si->srtt_ms = RTT_MAX_MS;
}
