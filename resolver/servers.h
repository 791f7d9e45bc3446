/* resolver/servers: what a worker knows about upstream addresses: smoothed RTT
 * (RFC 6298 style), timeouts in a row and back-off. Per worker, lossy (a fixed
 * table; a collision forgets the older address), never locked. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

struct servers;

struct servers *servers_new(void);
void servers_free(struct servers *s);
/** Lower is better. Unknown addresses score low so that they get probed;
 * addresses in back-off score very high. */
uint32_t servers_score(struct servers *s, const struct sockaddr *sa, uint64_t now_ms);
/** How long to wait for this address before giving up on one query. */
uint32_t servers_timeout_ms(struct servers *s, const struct sockaddr *sa);
void servers_rtt(struct servers *s, const struct sockaddr *sa, uint32_t rtt_ms);
void servers_timeout(struct servers *s, const struct sockaddr *sa, uint64_t now_ms);
