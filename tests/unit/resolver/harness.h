/* tests/unit/resolver/harness: a scripted upstream and a fake clock for the
 * sans-I/O resolver core, after PowerDNS's setAsyncCallback tests and Unbound's
 * testbound. It defines upstream_send()/upstream_cancel() and clock_wall_s()/
 * clock_mono_ms(), so the linker takes them from here and never pulls
 * resolver/upstream.o or base/clock.o out of the archives: no socket, no sleep.
 *
 * Fake authoritative servers answer from small zones (fake_zone, fake_rr) or
 * from a responder function set per test. upstream_send() only records the
 * query and computes the outcome; harness_run() delivers the outcomes one at a
 * time in the order of their (fake) arrival, moving the clock, exactly as the
 * worker's libuv callbacks would. Every query sent is logged for assertions.
 * One harness at a time per process (the clock is a global, as the real one is). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto/wire.h"
#include "resolver/config.h"

struct cache;
struct resolution;
struct rrset;
struct worker;

#define HARNESS_WALL_START_S 1700000000ull /* clock_wall_s() at harness_new() */
#define HARNESS_MONO_START_MS 1000000ull   /* clock_mono_ms() at harness_new() */
#define HARNESS_CLIENT_TIMEOUT_MS 4500	   /* budget of harness_start(), as lookup.c's */
#define HARNESS_CLIENT_UPSTREAM_MAX 64	   /* idem */
#define HARNESS_SERVERS_MAX 128
#define HARNESS_DELIVERIES_MAX 10000 /* a resolver that never settles fails the test */
#define FAKE_ZONES_MAX 8
#define FAKE_RDATA_MAX 512
#define FAKE_REPLY_MAX 65535
#define FAKE_LATENCY_MS 10 /* default one-way-and-back time of a fake server */

/** One record of a fake server's data. */
struct fake_rr {
	uint8_t owner[NAME_MAX_WIRE]; /* lowercased */
	uint16_t type;
	uint32_t ttl;
	uint16_t rdlen;
	uint8_t rdata[FAKE_RDATA_MAX]; /* uncompressed */
};

/** A query as a fake server receives it. */
struct fake_query {
	uint8_t qname[NAME_MAX_WIRE]; /* as sent, case preserved */
	uint16_t qtype, id, flags;
	bool tcp;
	bool has_opt;
	uint16_t edns_udp_size;
	int n_before; /* queries this server received before this one */
};

/** What a responder wants to happen to a query. */
enum fake_action {
	FAKE_REPLY,	  /* rep->mb holds the reply; the harness adds OPT, truncates over UDP */
	FAKE_RAW,	  /* rep->buf[0..raw_len) is delivered as it is (garbage) */
	FAKE_TIMEOUT,	  /* nothing comes back: the query times out after uq.timeout_ms */
	FAKE_UNREACHABLE, /* a network error (ICMP unreachable, TCP reset) after the latency */
	FAKE_SEND_ERROR,  /* upstream_send() itself fails */
};

/** The reply a responder writes. mb was started with the query's ID, QR and
 * the question echoed; the responder sets flags with mb_set_flags() and adds
 * records with mb_rr() (sections only move forward). */
struct fake_reply {
	struct msg_builder mb;
	uint8_t buf[FAKE_REPLY_MAX];
	uint16_t raw_len; /* FAKE_RAW only */
};

struct fake_server;
typedef enum fake_action (*fake_respond_fn)(struct fake_server *s, const struct fake_query *q,
					    struct fake_reply *rep);

struct fake_server {
	char label[48]; /* for assertions and traces: "root", "com", "ns1.example.com" */
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t zones[FAKE_ZONES_MAX][NAME_MAX_WIRE]; /* apexes it is authoritative for */
	int n_zones;
	struct fake_rr *rrs; /* every record it knows: zone data, glue, out-of-zone glue */
	int n_rrs, cap_rrs;
	uint32_t latency_ms;
	bool no_truncate;	 /* send UDP replies larger than the EDNS size whole */
	fake_respond_fn respond; /* NULL: fake_respond_zone() */
	void *arg;		 /* for respond */
	int n_queries;
};

/** One query the resolver sent, in order. */
struct harness_query {
	struct fake_server *server; /* NULL: no fake server at that address (a black hole) */
	struct sockaddr_storage ss;
	uint8_t qname[NAME_MAX_WIRE]; /* as sent */
	uint16_t qtype;
	bool tcp;
	uint64_t sent_ms;
	uint32_t timeout_ms;
	int depth; /* of the resolution that sent it: 0 for the client's question */
};

struct harness_pending;

struct harness {
	struct config cfg; /* tests may change it before the first resolution */
	struct worker *w;
	struct cache *cache;
	char cache_dir[64];
	struct fake_server *servers[HARNESS_SERVERS_MAX];
	int n_servers;
	struct harness_query *log;
	int n_log, cap_log;
	struct harness_pending *pending;
	uint64_t seq;
	struct resolution **held; /* references handed to the test, dropped at harness_free */
	int n_held, cap_held;
	int n_deliveries;
	bool trace; /* HARNESS_TRACE=1 in the environment: every query and outcome on stderr */
};

/** A harness with a fresh cache (under $TMPDIR), a worker, and a config:
 * @qmin, IPv4 only, loopback upstreams allowed, TTL caps 86400/3600, and one
 * root hint, a.root-servers.net. at 127.0.0.1. No fake server yet. */
struct harness *harness_new(enum qmin_mode qmin);
/** Finish whatever is in flight (SERVFAIL), drop the held references, check
 * that no query is left pending, close and delete the cache, free everything. */
void harness_free(struct harness *h);
/** Replace the root hints with one hint (@name at @addr); call repeatedly after
 * harness_clear_hints() for several. */
void harness_clear_hints(struct harness *h);
void harness_hint(struct harness *h, const char *name, const char *addr);

/** A fake server at @addr (IPv4 or IPv6 text, port 53) named @label. Owned by @h. */
struct fake_server *harness_server(struct harness *h, const char *label, const char *addr);
/** The server called @label, or NULL. */
struct fake_server *harness_find_server(const struct harness *h, const char *label);
/** Make @s authoritative for @apex and add @rrs (NULL-terminated, may be NULL). */
void fake_zone(struct fake_server *s, const char *apex, const char *const *rrs);
/** Add one record, "owner ttl TYPE rdata": A, AAAA, NS, CNAME, DNAME, PTR, MX,
 * SOA, TXT (one string), or any type as TYPEnnn / RFC 3597 "\# len hex". */
void fake_rr(struct fake_server *s, const char *text);
/** What an authoritative server does with @s's data: REFUSED outside its zones,
 * a referral (NS, and glue from any of its records) below a delegation, else
 * the answer (following CNAMEs inside the zone, and ending a CNAME chain that
 * enters a delegation with that referral, RFC 1034 4.3.2), NODATA or NXDOMAIN
 * with the SOA. NS answers carry the addresses in the additional section. */
enum fake_action fake_respond_zone(struct fake_server *s, const struct fake_query *q,
				   struct fake_reply *rep);
/** Add the records @s has at (@owner, @type) to section @sec of @rep. Returns how many. */
int fake_add_rrset(struct fake_server *s, struct fake_reply *rep, enum section sec,
		   const uint8_t *owner, uint16_t type);

/** The fake clocks: monotonic ms, and wall seconds that move with it. */
uint64_t harness_now_ms(void);
void harness_advance(struct harness *h, uint64_t ms);

/** resolution_get() for a client's question with a fresh budget (as lookup.c's
 * resolve_run() does), without running it. The reference is held by @h. */
struct resolution *harness_start(struct harness *h, const char *qname, uint16_t qtype);
/** Run the worker until nothing is ready and no query is pending: deliver each
 * pending outcome in order of arrival, move the clock to it, call
 * resolution_upstream_done() and worker_drain(), as resolver/upstream.c does. */
void harness_run(struct harness *h);
/** harness_start() then harness_run(). */
struct resolution *harness_resolve(struct harness *h, const char *qname, uint16_t qtype);

/** Queries in the log that match: @label (NULL: any server; "-": no server),
 * @qname (NULL: any; case-insensitive), @qtype (0: any). */
int harness_count(const struct harness *h, const char *label, const char *qname, uint16_t qtype);
/** Print the query log to stderr (for a failing test). */
void harness_dump(const struct harness *h);

/** Number of RRsets in a result list. */
int rrsets_len(const struct rrset *list);
/** The @i-th RRset of a result list, or NULL. */
const struct rrset *rrsets_at(const struct rrset *list, int i);
/** Does @s have owner @owner (text), and, unless @rdata is NULL, a record whose
 * RDATA reads @rdata (an address for A/AAAA, a name for NS/CNAME/PTR)? */
bool rrset_is(const struct rrset *s, const char *owner, uint16_t type, const char *rdata);
/** A name in text, for messages. */
const char *name_text(const uint8_t *name);
