/* proto/listen: SO_REUSEPORT sockets for the workers; see listen.h. */
#include "proto/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

static int open_socket(const struct sockaddr *sa, socklen_t len, int type)
{
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		goto fail_close;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
		goto fail_close;
	if (bind(fd, sa, len) < 0)
		goto fail_close;
	return fd;
fail_close:;
	int err = errno;
	close(fd);
	return -err;
}

int listen_udp(const struct sockaddr *sa, socklen_t len)
{
	return open_socket(sa, len, SOCK_DGRAM);
}

int listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog)
{
	int fd = open_socket(sa, len, SOCK_STREAM);
	if (fd < 0)
		return fd;
	if (listen(fd, backlog) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
