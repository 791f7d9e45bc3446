/* resolver/udp: batched UDP for clients; see udp.h. */
#include "resolver/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cache/cache.h"
#include "resolver/config.h"
#include "resolver/fastpath.h"
#include "resolver/request.h"
#include "resolver/worker.h"

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct udp_listener *ul = p->data;
	struct worker *w = ul->w;
	(void)events;
	if (status < 0 || ul->fd < 0)
		return;
	struct mmsghdr *in = ul->in, out[UDP_BATCH];
	struct iovec iov_out[UDP_BATCH];
	for (int b = 0; b < UDP_BATCHES_PER_WAKEUP; b++) {
		int n = recvmmsg(ul->fd, in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		/* one view of the cache and one clock reading for the batch */
		fastpath_batch_begin(w);
		uint64_t now_s = clock_wall_s();
		for (int i = 0; i < n; i++)
			fastpath_parse(w, ul->qbuf[i], in[i].msg_len, &ul->fq[i]);
		for (int i = 0; i < n; i++)
			fastpath_prefetch(w, &ul->fq[i]);
		int n_out = 0;
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &in[i].msg_hdr;
			socklen_t plen = h->msg_namelen;
			h->msg_namelen = sizeof(ul->peers[i]); /* for the next recvmmsg() */
			if (h->msg_flags & MSG_TRUNC)
				continue; /* bigger than any query we take */
			w->stats.queries_udp++;
			const struct sockaddr *peer = (const struct sockaddr *)&ul->peers[i];
			size_t len = fastpath_answer(w, ul->qbuf[i], in[i].msg_len, &ul->fq[i], peer,
						     now_s, ul->rbuf[n_out], UDP_REPLY_MAX);
			if (len == 0) {
				request_start(w, ul->qbuf[i], in[i].msg_len, peer, plen, ul, NULL);
				continue;
			}
			iov_out[n_out].iov_base = ul->rbuf[n_out];
			iov_out[n_out].iov_len = len;
			out[n_out].msg_hdr = (struct msghdr){
				.msg_name = &ul->peers[i],
				.msg_namelen = plen,
				.msg_iov = &iov_out[n_out],
				.msg_iovlen = 1,
			};
			n_out++;
		}
		fastpath_batch_end(w);
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
		/* Read again even after a short batch: under load the next
		 * queries came in while this batch was answered, and taking them
		 * now saves an epoll_wait per batch (2-3% of the CPU per cache
		 * hit, bench/). An idle socket costs one recvmmsg that finds
		 * nothing, after the replies have gone out. */
	}
}

int udp_listener_start(struct worker *w, struct udp_listener *ul, int fd)
{
	ul->fd = fd;
	ul->w = w;
	/* IPv4 replies with DF set, and path MTU news from ICMP ignored (which
	 * anyone can forge): replies of at most edns-udp-size 1232 fit every
	 * path of 1280 bytes, and a path that drops one makes the client retry
	 * over TCP, never reassemble spoofable fragments (DNS Flag Day 2020, RFC
	 * 9715). The kernel also skips choosing an IP ID for a DF packet, a
	 * hashed counter shared by the whole host. Larger configured sizes keep
	 * the kernel's default: a reply above the interface MTU would fail. */
	int domain = 0;
	socklen_t dlen = sizeof(domain);
	if (w->cfg->edns_udp_size <= UDP_DF_MAX &&
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) == 0 && domain == AF_INET) {
		int probe = IP_PMTUDISC_PROBE;
		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe));
	}
	/* the receive headers are set once; recvmmsg() changes only msg_namelen,
	 * msg_flags and msg_len, and on_readable() puts msg_namelen back */
	for (int i = 0; i < UDP_BATCH; i++) {
		ul->iov_in[i] = (struct iovec){ .iov_base = ul->qbuf[i], .iov_len = UDP_QUERY_MAX };
		ul->in[i].msg_hdr = (struct msghdr){
			.msg_name = &ul->peers[i],
			.msg_namelen = sizeof(ul->peers[i]),
			.msg_iov = &ul->iov_in[i],
			.msg_iovlen = 1,
		};
	}
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
