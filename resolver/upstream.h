/* resolver/upstream: the worker's side of talking to authoritative servers. It
 * sends the query a resolution queued in r->uq, over UDP from a fresh socket
 * with a random source port (connected, so only the server's address and port
 * can answer), or over TCP, and reports the outcome back with
 * resolution_upstream_done(). It checks only that the reply parses and matches
 * ID and question; what the reply means is iterate's business. */
#pragma once

struct resolution;
struct worker;

/** Send r->uq. The outcome arrives later through resolution_upstream_done(). */
int upstream_send(struct worker *w, struct resolution *r);
/** Abandon the query in flight for @r, if any (no callback follows). */
void upstream_cancel(struct resolution *r);
