/* proto/tls: TLS over memory BIOs on a libuv stream; see tls.h. */
#include "proto/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#define READ_CHUNK (16 * 1024 + 512) /* one TLS record and its overhead */
#define OUT_INITIAL 4096
#define OUT_MAX (4u * 1024 * 1024) /* a peer that does not read gets closed */
#define PEND_SEAL (16u * 1024)
#define OUT_KEEP (64u * 1024)      /* an output buffer up to this size is kept for reuse */     /* plaintext pending: sealed once a full record's worth */

/* TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. TLS 1.3's default
 * suites (AES-GCM, ChaCha20-Poly1305) are all modern. */
#define CIPHERS_TLS12 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                 \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* ---- session ticket keys, shared by every context, rotated by age ---- */

#define TICKET_KEY_LIFE_S (6 * 3600) /* a key encrypts for this long... */
#define TICKET_KEYS 2                /* ...and decrypts for one more period */

struct ticket_key {
	uint8_t name[16];
	uint8_t aes[32];
	uint8_t hmac[32];
	time_t born;
	bool set;
};

static pthread_mutex_t ticket_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key ticket_keys[TICKET_KEYS]; /* [0] is the current one */

static bool ticket_key_fresh(struct ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		return false;
	k->born = time(NULL);
	k->set = true;
	return true;
}

/* A copy of the key to encrypt with (rotating when the current one is too
 * old) when @name is NULL, else of the key named @name (*@current: it is the
 * one new tickets use). */
static bool ticket_key_get(const uint8_t *name, struct ticket_key *out, bool *current)
{
	bool found = false;
	time_t now = time(NULL);
	pthread_mutex_lock(&ticket_lock);
	if (!name) {
		if (!ticket_keys[0].set || now - ticket_keys[0].born >= TICKET_KEY_LIFE_S) {
			struct ticket_key k;
			if (ticket_key_fresh(&k)) {
				memmove(&ticket_keys[1], &ticket_keys[0],
					sizeof(ticket_keys[0]) * (TICKET_KEYS - 1));
				ticket_keys[0] = k;
			}
		}
		if (ticket_keys[0].set) {
			*out = ticket_keys[0];
			found = true;
		}
	} else {
		for (int i = 0; i < TICKET_KEYS && !found; i++) {
			/* a retired key decrypts for one more period, then is forgotten */
			if (ticket_keys[i].set && memcmp(ticket_keys[i].name, name, 16) == 0 &&
			    now - ticket_keys[i].born < (time_t)TICKET_KEY_LIFE_S * (i + 1)) {
				*out = ticket_keys[i];
				*current = i == 0;
				found = true;
			}
		}
	}
	pthread_mutex_unlock(&ticket_lock);
	return found;
}

static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[16],
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_key k;
	bool current = true;
	if (enc) {
		if (!ticket_key_get(NULL, &k, NULL) || RAND_bytes(iv, 16) != 1)
			return -1;
		memcpy(key_name, k.name, 16);
	} else if (!ticket_key_get(key_name, &k, &current)) {
		return 0; /* unknown or retired key: a full handshake */
	}
	OSSL_PARAM params[3] = {
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac)),
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	int ok = EVP_MAC_CTX_set_params(hctx, params) == 1 &&
		 (enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv)
		      : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv)) == 1;
	OPENSSL_cleanse(&k, sizeof(k));
	if (!ok)
		return -1;
	/* 2: valid, but issue a new ticket under the current key */
	return enc || current ? 1 : 2;
}

/* ---- contexts ---- */

struct alpn_pref {
	uint8_t list[64];
	size_t len;
	bool strict;
};

static int alpn_ex_index = -1;
static pthread_once_t alpn_once = PTHREAD_ONCE_INIT;

static void alpn_pref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			   void *argp)
{
	free(ptr);
}

static void alpn_index_init(void)
{
	alpn_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_pref_free);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct alpn_pref *p = arg;
	unsigned char *sel;
	/* our preference order, among what the client offers (RFC 7301 3.2) */
	if (SSL_select_next_proto(&sel, outlen, p->list, (unsigned)p->len, in, inlen) ==
	    OPENSSL_NPN_NEGOTIATED) {
		*out = sel;
		return SSL_TLSEXT_ERR_OK;
	}
	return p->strict ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

static void openssl_why(char *why, size_t cap, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, cap, "%s %s: %s", what, file, e ? buf : "failed");
	ERR_clear_error();
}

SSL_CTX *tls_ctx_new(const char *cert_file, const char *key_file, const uint8_t *alpn,
		     size_t alpn_len, bool alpn_strict, char *why, size_t why_cap)
{
	pthread_once(&alpn_once, alpn_index_init);
	struct alpn_pref *pref = calloc(1, sizeof(*pref));
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !pref || alpn_len > sizeof(pref->list)) {
		snprintf(why, why_cap, "out of memory");
		free(pref);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* not SSL_MODE_RELEASE_BUFFERS: it frees and allocates the record buffers
	 * around every record; a connection keeps them (about 34 KiB) instead */
	if (SSL_CTX_set_cipher_list(ctx, CIPHERS_TLS12) != 1) {
		openssl_why(why, why_cap, "cipher list", "");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		openssl_why(why, why_cap, "cannot load certificate chain", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		openssl_why(why, why_cap, "cannot load private key", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_why(why, why_cap, "private key does not match the certificate in", cert_file);
		goto fail;
	}
	/* resumption: stateless tickets under our rotating keys, no server cache */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	SSL_CTX_set_num_tickets(ctx, 1);
	memcpy(pref->list, alpn, alpn_len);
	pref->len = alpn_len;
	pref->strict = alpn_strict;
	SSL_CTX_set_ex_data(ctx, alpn_ex_index, pref);
	pref = NULL;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, SSL_CTX_get_ex_data(ctx, alpn_ex_index));
	return ctx;
fail:
	free(pref);
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx); /* reference counted: streams on it keep it alive */
}

/* ---- streams ---- */

static void stream_handle_closed(uv_handle_t *h)
{
	struct tls_stream *s = h->data;
	if (--s->open_handles > 0)
		return;
	SSL_free(s->ssl);
	s->ssl = NULL;
	free(s->out);
	s->out = NULL;
	free(s->pend);
	s->pend = NULL;
	s->pend_len = s->pend_cap = 0;
	s->ops->on_closed(s);
}

struct out_write {
	uv_write_t req;
	uint8_t *buf;
};

static void written(uv_write_t *wr, int status)
{
	struct out_write *ow = wr->data;
	free(ow->buf);
	free(ow);
}

/* Room for @more bytes after *len in *buf (capacity *cap), doubling from
 * OUT_INITIAL up to OUT_MAX: -ENOBUFS beyond that, -ENOMEM if malloc fails. */
static int reserve(uint8_t **buf, size_t len, size_t *cap, size_t more)
{
	if (len + more <= *cap)
		return 0;
	size_t c = *cap ? *cap : OUT_INITIAL;
	while (c < len + more)
		c *= 2;
	if (c > OUT_MAX)
		return -ENOBUFS;
	uint8_t *n = realloc(*buf, c);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = c;
	return 0;
}

/* Move ciphertext from the write BIO into s->out. */
static int drain_wbio(struct tls_stream *s)
{
	if (!s->ssl)
		return 0;
	for (;;) {
		size_t pending = BIO_ctrl_pending(s->wbio);
		if (pending == 0)
			return 0;
		int rc = reserve(&s->out, s->out_len, &s->out_cap, pending);
		if (rc < 0)
			return rc;
		int r = BIO_read(s->wbio, s->out + s->out_len, (int)pending);
		if (r <= 0)
			return 0;
		s->out_len += (size_t)r;
	}
}

/* Encrypt the plaintext gathered in s->pend: one SSL_write, so that the
 * replies written in one callback share TLS records (each record costs a
 * cipher setup, a MAC and 22 bytes) instead of one record per reply. */
static int seal_pending(struct tls_stream *s)
{
	if (s->pend_len == 0 || !s->ssl)
		return 0;
	const uint8_t *p = s->pend;
	size_t len = s->pend_len;
	s->pend_len = 0;
	while (len > 0) {
		int n = len > INT32_MAX ? INT32_MAX : (int)len;
		int r = SSL_write(s->ssl, p, n);
		if (r <= 0) {
			ERR_clear_error();
			s->peer_eof = true;
			return -EPROTO;
		}
		p += r;
		len -= (size_t)r;
	}
	if (s->pend_cap > 4 * PEND_SEAL) { /* a burst grew it: give the memory back */
		free(s->pend);
		s->pend = NULL;
		s->pend_cap = 0;
	}
	/* keep the memory BIO small: move the records out as they come */
	if (BIO_ctrl_pending(s->wbio) > 64 * 1024 && drain_wbio(s) < 0) {
		s->peer_eof = true;
		return -ENOBUFS;
	}
	return 0;
}

void tls_stream_seal(struct tls_stream *s)
{
	if (!s->closing)
		seal_pending(s);
}

void tls_stream_flush(struct tls_stream *s)
{
	seal_pending(s);
	if (drain_wbio(s) < 0) {
		s->out_len = 0;
		s->peer_eof = true;
	}
	if (s->out_len == 0 || uv_is_closing((uv_handle_t *)&s->tcp))
		return;
	if (tls_stream_backlog(s) > OUT_MAX) {
		s->out_len = 0; /* the peer stopped reading long ago */
		tls_stream_close(s);
		return;
	}
	if (s->tcp.write_queue_size == 0) {
		/* Nothing queued: write now. A uv_write() that completes at once
		 * still costs an epoll_ctl() (libuv re-arms the watcher when its
		 * queue drains) and a request; uv_try_write() costs neither, and
		 * the buffer stays for the next flush. */
		uv_buf_t now = uv_buf_init((char *)s->out, (unsigned)s->out_len);
		int n = uv_try_write((uv_stream_t *)&s->tcp, &now, 1);
		if (n == (int)s->out_len) {
			s->out_len = 0;
			if (s->out_cap > OUT_KEEP) {
				free(s->out);
				s->out = NULL;
				s->out_cap = 0;
			}
			return;
		}
		if (n > 0) {
			memmove(s->out, s->out + n, s->out_len - (size_t)n);
			s->out_len -= (size_t)n;
		} else if (n != UV_EAGAIN) {
			s->out_len = 0; /* the connection is broken: reading will say so */
			return;
		}
	}
	struct out_write *ow = malloc(sizeof(*ow));
	if (!ow)
		return;
	ow->buf = s->out;
	ow->req.data = ow;
	uv_buf_t b = uv_buf_init((char *)s->out, (unsigned)s->out_len);
	s->out = NULL;
	s->out_len = s->out_cap = 0;
	if (uv_write(&ow->req, (uv_stream_t *)&s->tcp, &b, 1, written) != 0) {
		free(ow->buf);
		free(ow);
	}
}

static void stream_shut(uv_shutdown_t *req, int status)
{
	struct tls_stream *s = req->handle->data;
	uv_close((uv_handle_t *)&s->tcp, stream_handle_closed);
}

static void enter(struct tls_stream *s)
{
	s->in_callback++;
}

static void leave(struct tls_stream *s)
{
	if (--s->in_callback == 0 && !s->closing) {
		tls_stream_flush(s);
		if (s->peer_eof)
			tls_stream_close(s);
	}
}

static void stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static __thread char chunk[READ_CHUNK]; /* consumed before the next read */
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void do_handshake(struct tls_stream *s)
{
	int r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		const unsigned char *p;
		unsigned len;
		SSL_get0_alpn_selected(s->ssl, &p, &len);
		s->alpn = NULL;
		if (len == 3 && memcmp(p, "dot", 3) == 0)
			s->alpn = "dot";
		else if (len == 2 && memcmp(p, "h2", 2) == 0)
			s->alpn = "h2";
		else if (len == 8 && memcmp(p, "http/1.1", 8) == 0)
			s->alpn = "http/1.1";
		s->open = true;
		s->ops->on_open(s);
		return;
	}
	int e = SSL_get_error(s->ssl, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		s->peer_eof = true; /* the alert, if any, is in the write BIO */
	}
}

static void stream_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct tls_stream *s = st->data;
	if (nread == 0)
		return;
	enter(s);
	if (nread < 0) {
		s->peer_eof = true;
		if (s->open)
			s->ops->on_readable(s); /* what is already decrypted is still served */
		leave(s);
		return;
	}
	if (s->ssl) {
		if (BIO_write(s->rbio, buf->base, (int)nread) != (int)nread) {
			s->peer_eof = true;
		} else if (!s->open) {
			do_handshake(s);
			if (s->open)
				s->ops->on_readable(s);
		} else {
			s->ops->on_readable(s);
		}
	} else {
		/* cleartext: the chunk is handed to the owner through a view */
		s->plain = (const uint8_t *)buf->base;
		s->plain_len = (size_t)nread;
		s->ops->on_readable(s);
		if (s->plain_len) {
			/* the owner paused before taking everything: keep the rest */
			uint8_t *keep = malloc(s->plain_len);
			if (keep) {
				memcpy(keep, s->plain, s->plain_len);
				free(s->plain_keep);
				s->plain_keep = keep;
				s->plain = keep;
			} else {
				s->peer_eof = true;
			}
		}
	}
	leave(s);
}

static void stream_idle(uv_timer_t *t)
{
	struct tls_stream *s = t->data;
	enter(s);
	s->ops->on_idle(s);
	leave(s);
}

int tls_stream_accept(struct tls_stream *s, uv_loop_t *loop, uv_stream_t *server, SSL_CTX *ctx,
		      uint64_t idle_ms)
{
	uv_tcp_init(loop, &s->tcp);
	uv_timer_init(loop, &s->idle);
	s->tcp.data = s;
	s->idle.data = s;
	s->open_handles = 2;
	s->idle_ms = idle_ms;
	int rc = uv_accept(server, (uv_stream_t *)&s->tcp);
	if (rc == 0 && ctx) {
		s->ssl = SSL_new(ctx);
		s->rbio = BIO_new(BIO_s_mem());
		s->wbio = BIO_new(BIO_s_mem());
		if (!s->ssl || !s->rbio || !s->wbio) {
			BIO_free(s->rbio);
			BIO_free(s->wbio);
			s->rbio = s->wbio = NULL;
			rc = -ENOMEM;
		} else {
			BIO_set_mem_eof_return(s->rbio, -1);
			SSL_set_bio(s->ssl, s->rbio, s->wbio);
			SSL_set_accept_state(s->ssl);
		}
	}
	if (rc != 0) {
		s->closing = true;
		uv_close((uv_handle_t *)&s->tcp, stream_handle_closed);
		uv_close((uv_handle_t *)&s->idle, stream_handle_closed);
		return rc;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	uv_timer_start(&s->idle, stream_idle, idle_ms, idle_ms);
	uv_read_start((uv_stream_t *)&s->tcp, stream_alloc, stream_read);
	s->reading = true;
	if (!ctx) {
		s->open = true;
		enter(s);
		s->ops->on_open(s);
		leave(s);
	}
	return 0;
}

ssize_t tls_stream_read(struct tls_stream *s, uint8_t *buf, size_t cap)
{
	if (s->closing || cap == 0)
		return 0;
	if (!s->ssl) {
		if (s->plain_len == 0)
			return 0;
		size_t n = s->plain_len < cap ? s->plain_len : cap;
		memcpy(buf, s->plain, n);
		s->plain += n;
		s->plain_len -= n;
		if (s->plain_len == 0) {
			free(s->plain_keep);
			s->plain_keep = NULL;
		}
		return (ssize_t)n;
	}
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	int r = SSL_read(s->ssl, buf, (int)cap);
	if (r > 0)
		return r;
	int e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	ERR_clear_error();
	s->peer_eof = true; /* close_notify or a fatal alert */
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -EPROTO;
}

int tls_stream_write(struct tls_stream *s, const uint8_t *p, size_t len)
{
	if (s->closing)
		return -EPIPE;
	/* with TLS, gathered and sealed at the end of the callback (or a
	 * record's worth); without, it is already what goes on the wire */
	uint8_t **buf = s->ssl ? &s->pend : &s->out;
	size_t *used = s->ssl ? &s->pend_len : &s->out_len;
	if (reserve(buf, *used, s->ssl ? &s->pend_cap : &s->out_cap, len) < 0) {
		s->peer_eof = true;
		return -ENOBUFS;
	}
	memcpy(*buf + *used, p, len);
	*used += len;
	if (s->ssl && s->pend_len >= PEND_SEAL && seal_pending(s) < 0)
		return s->peer_eof ? -EPROTO : -ENOBUFS;
	if (s->in_callback == 0)
		tls_stream_flush(s);
	return 0;
}

void tls_stream_pause(struct tls_stream *s, bool pause)
{
	if (s->closing || s->paused == pause)
		return;
	s->paused = pause;
	if (pause && s->reading) {
		uv_read_stop((uv_stream_t *)&s->tcp);
		s->reading = false;
	} else if (!pause && !s->reading && !s->peer_eof) {
		uv_read_start((uv_stream_t *)&s->tcp, stream_alloc, stream_read);
		s->reading = true;
	}
	if (!pause && s->open) {
		enter(s);
		s->ops->on_readable(s);
		leave(s);
	}
}

void tls_stream_touch(struct tls_stream *s)
{
	if (!s->closing)
		uv_timer_again(&s->idle);
}

size_t tls_stream_backlog(const struct tls_stream *s)
{
	return s->tcp.write_queue_size;
}

void tls_stream_close(struct tls_stream *s)
{
	if (s->closing)
		return;
	if (s->ssl && s->open && !s->peer_eof) {
		seal_pending(s); /* what was written before the close goes first */
		SSL_shutdown(s->ssl); /* close_notify into the write BIO */
		ERR_clear_error();
	}
	s->in_callback = 0;
	tls_stream_flush(s); /* queued before the close: libuv writes it first */
	s->closing = true;
	free(s->plain_keep);
	s->plain_keep = NULL;
	s->plain_len = 0;
	uv_close((uv_handle_t *)&s->idle, stream_handle_closed);
	if (s->reading)
		uv_read_stop((uv_stream_t *)&s->tcp);
	/* uv_close() would cancel writes still queued: let them go out first */
	if (s->tcp.write_queue_size > 0 &&
	    uv_shutdown(&s->shutdown, (uv_stream_t *)&s->tcp, stream_shut) == 0)
		return;
	uv_close((uv_handle_t *)&s->tcp, stream_handle_closed);
}

int tls_stream_peer(const struct tls_stream *s, struct sockaddr_storage *ss, socklen_t *len)
{
	int l = sizeof(*ss);
	int rc = uv_tcp_getpeername(&s->tcp, (struct sockaddr *)ss, &l);
	*len = (socklen_t)l;
	return rc;
}

bool tls_stream_resumed(const struct tls_stream *s)
{
	return s->ssl && SSL_session_reused(s->ssl);
}
