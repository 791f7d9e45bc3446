/* resolver/config: the configuration, from built-in defaults, then the config
 * file, then command-line flags (later wins). Every command-line flag is also a
 * config-file key of the same name without the dashes ("listen 127.0.0.1:53"),
 * one per line, '#' starts a comment. Once loaded, a config is immutable and
 * shared by all workers. Errors name the file, the line and what is wrong. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "resolver/trust_anchor.h"

#define CONFIG_LISTEN_MAX 32
#define CONFIG_ACL_MAX 64
#define CONFIG_HINTS_MAX 64

struct sockaddr_storage;
struct prefixset;

#define CONFIG_TENANTS_MAX 64

/** A policy tenant: which clients get which script (resolver/policy.c). */
struct tenant {
	char *path;                /* by DoH path ("/dns-query/family"), or NULL */
	struct prefixset *clients; /* or by client prefix */
	char *script;
};

/* What a listen address serves, from its scheme: "ADDR:PORT" (UDP and TCP),
 * "tls://" (DoT), "https://" (DoH over TLS), "http://" (cleartext DoH). */
enum listen_kind { LISTEN_DNS = 0, LISTEN_TLS, LISTEN_HTTPS, LISTEN_HTTP };

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool is_default; /* a built-in default: failure to bind is a warning, not fatal */
	enum listen_kind kind;
};

struct prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t bits;
};

/** A root server from the hints file: its name and one address. */
struct hint {
	uint8_t name[255]; /* wire form, lowercased */
	struct sockaddr_storage ss;
	socklen_t len;
};

enum qmin_mode { QMIN_OFF = 0, QMIN_RELAXED = 1, QMIN_STRICT = 2 };

struct config {
	char *config_path;      /* --config */
	struct listen_addr listen[CONFIG_LISTEN_MAX];
	int n_listen;           /* --listen ADDR:PORT, repeatable; default 127.0.0.1:53 and [::1]:53 */
	char *root_hints_path;  /* --root-hints; default /usr/share/dns/root.hints */
	struct hint hints[CONFIG_HINTS_MAX];
	int n_hints;            /* loaded from root_hints_path */
	bool hints_on_loopback; /* every hint address is loopback: allow loopback upstreams */
	char *ddr_name;         /* --ddr-name NAME: RFC 9462 discovery, off when NULL */
	bool dnssec;            /* --dnssec yes|no; default yes */
	char *trust_anchor_path; /* --trust-anchor FILE; NULL: /usr/share/dns/root.key */
	struct trust_anchors anchors; /* loaded from it, plus --negative-trust-anchor NAMEs */
	char *cache_dir;        /* --cache-dir; default /var/cache/tern */
	size_t cache_size;      /* --cache-size BYTES[KMG]; default 512M */
	int threads;            /* --threads N; default: number of cores */
	enum qmin_mode qmin;    /* --qname-minimisation off|relaxed|strict; default relaxed */
	bool upstream_ipv4;     /* --upstream-ipv4 yes|no; default yes */
	bool upstream_ipv6;     /* --upstream-ipv6 yes|no; default yes */
	bool allow_loopback_upstream; /* --allow-loopback-upstream yes|no; default: hints_on_loopback */
	uint32_t ttl_min_s;     /* --ttl-min; default 0 */
	uint32_t ttl_max_s;     /* --ttl-max; default 86400 */
	uint32_t neg_ttl_max_s; /* --negative-ttl-max; default 3600 */
	uint32_t serve_stale_s; /* --serve-stale; default 86400, 0: off (RFC 8767) */
	bool prefetch;          /* --prefetch yes|no; default yes */
	uint16_t edns_udp_size; /* --edns-udp-size; default 1232 */
	uint32_t tcp_idle_timeout_ms; /* --tcp-idle-timeout MS; default 10000 */
	uint32_t tcp_conn_max;  /* --tcp-connections-max per worker; default 1000 */
	struct prefix acl[CONFIG_ACL_MAX];
	int n_acl;              /* --allow PREFIX, repeatable; default 127.0.0.0/8 and ::1/128 */
	char *tls_cert_path;    /* --tls-cert FILE: PEM chain for tls:// and https:// listeners */
	char *tls_key_path;     /* --tls-key FILE: its PEM private key */
	char *doh_path;         /* --doh-path; default /dns-query */
	struct prefix http_proxies[CONFIG_ACL_MAX];
	int n_http_proxies;     /* --http-proxy PREFIX: may connect to http:// listeners */
	bool http_proxy_protocol; /* --http-proxy-protocol yes|no: proxies must send PROXY v2 */
	uint32_t http_streams_max; /* --http-streams-max per connection; default 100 */
	int verbosity;          /* --verbosity 0..3 (error..debug); default 2 (info) */
	bool check_only;        /* --check-config */
	/* policy scripts (resolver/policy.c, tern-policy(7)) */
	char *policy_path;      /* --policy FILE: the script for every client */
	size_t policy_memory_max; /* --policy-memory-max SIZE per isolate; default 16M */
	uint64_t policy_instructions_max; /* --policy-instructions-max N per call; default 1000000 */
	uint32_t policy_timeout_ms; /* --policy-timeout MS per call; default 10 */
	bool policy_fail_closed; /* --policy-failure open|closed; default open */
	struct tenant tenants[CONFIG_TENANTS_MAX];
	int n_tenants;          /* --tenant "PREFIX[,PREFIX...] FILE" or "/PATH FILE", repeatable */
};

/** What config_load() asks the caller to do. */
enum config_action { CONFIG_RUN, CONFIG_EXIT_OK, CONFIG_EXIT_FAIL };

/** Fill @c from defaults, the config file (--config, if given) and @argv, then
 * load the root hints. Prints --help/--version and errors (file:line: problem)
 * to stderr itself. Returns what the caller should do next. Whatever it
 * returns, @c is then owned by the caller and released with config_free(). */
enum config_action config_load(struct config *c, int argc, char **argv);
/** config_load() writing --help, --version and --check-config's verdict to @out
 * and errors to @err instead of stdout and stderr (for tests). */
enum config_action config_load_io(struct config *c, int argc, char **argv, FILE *out,
				  FILE *err);
/** Release what config_load() allocated. Safe to call twice. */
void config_free(struct config *c);

/** Parse "ADDR:PORT", "[V6]:PORT", "ADDR" (port @default_port) into @ss.
 * Returns 0 or TERN_EMALFORMED. */
int config_parse_addr(const char *text, uint16_t default_port, struct sockaddr_storage *ss,
		      socklen_t *len);
/** True when @sa is inside one of the prefixes. */
bool config_acl_allows(const struct config *c, const struct sockaddr *sa);
/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
bool addr_is_loopback(const struct sockaddr *sa);
