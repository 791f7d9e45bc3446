/* proto/listen: listening sockets. Each worker opens its own socket on every
 * listen address with SO_REUSEPORT, so the kernel spreads clients over workers;
 * libuv 1.44 (Debian 12) cannot do that itself, so the socket is made here and
 * handed to uv_udp_open()/uv_tcp_open(). */
#pragma once

#include <sys/socket.h>

/** A bound, non-blocking UDP socket with SO_REUSEPORT. Returns the fd or -errno. */
int listen_udp(const struct sockaddr *sa, socklen_t len);
/** A bound, listening, non-blocking TCP socket with SO_REUSEPORT. Returns the fd or -errno. */
int listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog);
