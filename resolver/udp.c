/* resolver/udp: batched UDP for clients; see udp.h. */
#include "resolver/udp.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.h"
#include "resolver/fastpath.h"
#include "resolver/request.h"
#include "resolver/worker.h"

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct udp_listener *ul = p->data;
	struct worker *w = ul->w;
	if (status < 0 || ul->fd < 0)
		return;
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
	struct iovec iov_in[UDP_BATCH], iov_out[UDP_BATCH];
	for (int b = 0; b < UDP_BATCHES_PER_WAKEUP; b++) {
		for (int i = 0; i < UDP_BATCH; i++) {
			iov_in[i].iov_base = ul->qbuf[i];
			iov_in[i].iov_len = UDP_QUERY_MAX;
			memset(&in[i].msg_hdr, 0, sizeof(in[i].msg_hdr));
			in[i].msg_hdr.msg_name = &ul->peers[i];
			in[i].msg_hdr.msg_namelen = sizeof(ul->peers[i]);
			in[i].msg_hdr.msg_iov = &iov_in[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(ul->fd, in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		/* one snapshot of the cache for the batch: no renew per lookup */
		bool held = cache_read_hold(w->cache) == 0;
		int n_out = 0;
		for (int i = 0; i < n; i++) {
			if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue; /* bigger than any query we take */
			w->stats.queries_udp++;
			const struct sockaddr *peer = (const struct sockaddr *)&ul->peers[i];
			socklen_t plen = in[i].msg_hdr.msg_namelen;
			size_t len = fastpath_answer(w, ul->qbuf[i], in[i].msg_len, peer,
						     ul->rbuf[n_out], UDP_REPLY_MAX);
			if (len == 0) {
				request_start(w, ul->qbuf[i], in[i].msg_len, peer, plen, ul, NULL);
				continue;
			}
			iov_out[n_out].iov_base = ul->rbuf[n_out];
			iov_out[n_out].iov_len = len;
			memset(&out[n_out].msg_hdr, 0, sizeof(out[n_out].msg_hdr));
			out[n_out].msg_hdr.msg_name = &ul->peers[i];
			out[n_out].msg_hdr.msg_namelen = plen;
			out[n_out].msg_hdr.msg_iov = &iov_out[n_out];
			out[n_out].msg_hdr.msg_iovlen = 1;
			n_out++;
		}
		if (held)
			cache_read_release(w->cache);
		for (int sent = 0; sent < n_out;) {
			int k = sendmmsg(ul->fd, out + sent, (unsigned)(n_out - sent), MSG_DONTWAIT);
			if (k <= 0) {
				if (k < 0 && errno == EINTR)
					continue;
				/* a full buffer or an unreachable peer costs that reply only */
				sent++;
				continue;
			}
			sent += k;
		}
		worker_drain(w);
		if (n < UDP_BATCH)
			break;
	}
}

int udp_listener_start(struct worker *w, struct udp_listener *ul, int fd)
{
	ul->fd = fd;
	ul->w = w;
	int rc = uv_poll_init(&w->loop, &ul->poll, fd);
	if (rc < 0)
		return rc;
	ul->poll.data = ul;
	return uv_poll_start(&ul->poll, UV_READABLE, on_readable);
}

static void on_closed(uv_handle_t *h)
{
	struct udp_listener *ul = h->data;
	if (ul->fd >= 0) {
		close(ul->fd);
		ul->fd = -1;
	}
}

void udp_listener_close(struct udp_listener *ul)
{
	if (!uv_is_closing((uv_handle_t *)&ul->poll))
		uv_close((uv_handle_t *)&ul->poll, on_closed);
}

void udp_send(struct udp_listener *ul, const uint8_t *reply, size_t len, const struct sockaddr *peer,
	      socklen_t peer_len)
{
	if (ul->fd < 0 || uv_is_closing((uv_handle_t *)&ul->poll))
		return;
	ssize_t rc = sendto(ul->fd, reply, len, MSG_DONTWAIT, peer, peer_len);
	(void)rc;
}
