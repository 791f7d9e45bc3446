/* resolver/prefixset: a set of client address prefixes (IPv4 and IPv6), for
 * policy scripts (tern.prefixset) and for choosing a tenant by client. An
 * IPv4 client on an IPv6 socket (::ffff:a.b.c.d) counts as IPv4. Built once,
 * then read without locks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct prefixset;

/** An empty set; NULL when memory runs out. */
struct prefixset *prefixset_new(void);
void prefixset_free(struct prefixset *s);
/** Add "ADDR/BITS" or "ADDR" (a host). Returns 0, TERN_EMALFORMED or -ENOMEM. */
int prefixset_add(struct prefixset *s, const char *text);
/** The longest prefix length in the set covering @sa, or -1 when none does. */
int prefixset_match(const struct prefixset *s, const struct sockaddr *sa);
/** True when a prefix of the set covers @sa. */
bool prefixset_covers(const struct prefixset *s, const struct sockaddr *sa);
/** prefixset_covers() for an address in text ("192.0.2.1", "2001:db8::1"). */
bool prefixset_covers_text(const struct prefixset *s, const char *text);
size_t prefixset_count(const struct prefixset *s);
