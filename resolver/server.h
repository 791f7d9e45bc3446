/* resolver/server: the client side of a worker: UDP and TCP on every listen
 * address. UDP datagrams and TCP messages become requests; replies go back on
 * the socket or connection they came from. TCP follows RFC 7766: pipelined
 * queries answered out of order, an idle timeout, a cap on connections per
 * worker and on queries in flight per connection. */
#pragma once

#include <sys/socket.h>

struct request;
struct worker;
struct tcp_conn;

#define TCP_PIPELINE_MAX 64 /* queries in flight per connection before we stop reading */
#define TCP_BACKLOG 256

/** Open UDP and TCP listeners for every configured address. */
int server_listen(struct worker *w);
/** Stop accepting and close every listener and connection. */
void server_close(struct worker *w);
/** Send req->reply (if any) to the client and free the request. */
void server_reply(struct request *req);
/** A TCP message that could not become a request (out of memory). */
void server_tcp_dropped(struct tcp_conn *c);
/** Drop the request's hold on its TCP connection. */
void tcp_conn_unref(struct tcp_conn *c);
