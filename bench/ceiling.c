/* bench/ceiling: the packet-path ceiling. A bare UDP responder with no DNS logic
 * beyond echoing the question: it answers every query with a fixed A record, in
 * batches (recvmmsg/sendmmsg). bench/ measures it exactly like the resolvers, so
 * every figure can be read as a fraction of what the machine's packet path allows.
 * Usage: ceiling ADDR PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define BUF_BYTES 512

/* The answer appended after the question: a pointer to the qname, A, IN, TTL 300, 192.0.2.1. */
static const unsigned char answer[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};

/* Length of header + question, or 0 if the message is not one plain question. */
static size_t question_end(const unsigned char *m, size_t len)
{
	size_t i = 12;
	if (len < 12 || (m[2] & 0x80) || m[4] != 0 || m[5] != 1)
		return 0;
	while (i < len && m[i] != 0 && m[i] < 64)
		i += m[i] + 1;
	return i < len && m[i] == 0 && i + 5 <= len ? i + 5 : 0;
}

int main(int argc, char **argv)
{
	static unsigned char bufs[BATCH][BUF_BYTES];
	struct sockaddr_in peers[BATCH], addr = {.sin_family = AF_INET};
	struct iovec iov[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (argc != 3 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
		fprintf(stderr, "usage: ceiling ADDR PORT\n");
		return 2;
	}
	addr.sin_port = htons((unsigned short)atoi(argv[2]));
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		perror("ceiling: bind");
		return 1;
	}
	for (;;) {
		int n_in, n_out = 0;
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], BUF_BYTES - sizeof(answer)};
			in[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof(peers[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1};
		}
		n_in = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		for (int i = 0; i < n_in; i++) {
			unsigned char *m = bufs[i];
			size_t q = question_end(m, in[i].msg_len);
			if (q == 0)
				continue;
			m[2] = (m[2] & 0x79) | 0x84; /* QR, AA; keep opcode 0 and RD */
			m[3] = 0x80;                 /* RA, NOERROR */
			m[6] = 0;
			m[7] = 1; /* ANCOUNT 1, NSCOUNT and ARCOUNT 0: drop any OPT */
			memset(m + 8, 0, 4);
			memcpy(m + q, answer, sizeof(answer));
			iov[i].iov_len = q + sizeof(answer);
			out[n_out].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = in[i].msg_hdr.msg_namelen,
							     .msg_iov = &iov[i], .msg_iovlen = 1};
			n_out++;
		}
		if (n_out > 0)
			sendmmsg(fd, out, (unsigned)n_out, 0);
	}
}
