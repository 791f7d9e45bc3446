/* proto/tls: a server-side byte stream over a libuv TCP handle, with or without
 * TLS. TLS is OpenSSL over memory BIOs: ciphertext read by libuv is written into
 * the read BIO, SSL_read() gives the plaintext, and what SSL_write() leaves in
 * the write BIO goes out with uv_write(). No threads, no blocking calls, the
 * same loop as every other transport. The owner (DoT, DoH) pulls plaintext when
 * told it is readable and may pause reading for back-pressure.
 *
 * Also the server contexts: TLS 1.2 and 1.3 only, forward-secret AEAD suites
 * only, ALPN chosen from the context's own list, session resumption by
 * stateless tickets under keys shared by every context and worker, a new one
 * every few hours (the previous one still decrypts for as long). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

struct tls_stream;

struct tls_stream_ops {
	/** The handshake is done (or, without TLS, the connection is accepted). */
	void (*on_open)(struct tls_stream *s);
	/** Plaintext may be waiting: pull it with tls_stream_read(). */
	void (*on_readable)(struct tls_stream *s);
	/** The idle timer fired (see tls_stream_touch()). */
	void (*on_idle)(struct tls_stream *s);
	/** Both handles are closed: the owner may free the stream now. */
	void (*on_closed)(struct tls_stream *s);
};

/* The uv handles are not the first member: resolver/server.c closes every TCP
 * handle whose data is itself on shutdown, and these are not its connections. */
struct tls_stream {
	const struct tls_stream_ops *ops;
	void *data;         /* the owner's */
	uv_tcp_t tcp;
	uv_timer_t idle;
	SSL *ssl;           /* NULL: cleartext */
	BIO *rbio, *wbio;   /* owned by ssl */
	uv_shutdown_t shutdown;
	const uint8_t *plain; /* cleartext: the unread part of the last chunk */
	size_t plain_len;
	uint8_t *plain_keep; /* ...copied when the owner paused before taking it all */
	uint8_t *out;       /* output gathered for the next uv_write() */
	size_t out_len, out_cap;
	uint8_t *pend;      /* TLS: plaintext written during a callback, sealed at its end */
	size_t pend_len, pend_cap;
	uint64_t idle_ms;
	int open_handles;
	int in_callback;    /* output is flushed once when the outermost callback returns */
	bool open;          /* handshake done */
	bool reading;       /* uv reading */
	bool paused;        /* the owner asked to stop reading */
	bool peer_eof;      /* the peer closed its side, or a fatal error */
	bool closing;
	const char *alpn;   /* negotiated protocol (static text), NULL if none */
};

/** Server context from a PEM chain and key. @alpn is the wire form list of
 * protocols we speak, in our order of preference ("\x03dot", "\x02h2\x08http/1.1");
 * a client that offers none of them is refused when @alpn_strict, else served
 * without ALPN. Returns NULL and a reason in @why. */
SSL_CTX *tls_ctx_new(const char *cert_file, const char *key_file, const uint8_t *alpn,
		     size_t alpn_len, bool alpn_strict, char *why, size_t why_cap);
void tls_ctx_free(SSL_CTX *ctx);

/** Accept a connection from @server into @s (zeroed by the caller, ops and data
 * set) and start reading. @ctx NULL: cleartext. On error the stream is already
 * closing: on_closed() will come. */
int tls_stream_accept(struct tls_stream *s, uv_loop_t *loop, uv_stream_t *server, SSL_CTX *ctx,
		      uint64_t idle_ms);
/** Encrypt the plaintext written so far into TLS records of its own now; they
 * are sent with the rest when the current callback returns. */
void tls_stream_seal(struct tls_stream *s);
/** Up to @cap bytes of plaintext into @buf. Returns the count, 0 when nothing
 * is buffered now, or a negative error (the stream is then closing). */
ssize_t tls_stream_read(struct tls_stream *s, uint8_t *buf, size_t cap);
/** Queue @len bytes of plaintext for the peer (sent when the current callback
 * returns, or at once outside callbacks). Returns 0 or a negative error. */
int tls_stream_write(struct tls_stream *s, const uint8_t *p, size_t len);
/** Send what was queued now. */
void tls_stream_flush(struct tls_stream *s);
/** Stop or resume reading from the socket (back-pressure). Resuming also
 * reports on_readable() once, for plaintext that was already decrypted. */
void tls_stream_pause(struct tls_stream *s, bool pause);
/** Restart the idle timer. */
void tls_stream_touch(struct tls_stream *s);
/** Bytes handed to the kernel queue but not yet written (a slow reader). */
size_t tls_stream_backlog(const struct tls_stream *s);
/** Send close_notify (TLS), flush, close. on_closed() follows. Idempotent. */
void tls_stream_close(struct tls_stream *s);
/** The peer's address. */
int tls_stream_peer(const struct tls_stream *s, struct sockaddr_storage *ss, socklen_t *len);
/** True when the session was resumed (for statistics and tests). */
bool tls_stream_resumed(const struct tls_stream *s);
