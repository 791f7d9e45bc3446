/* proto/base64url: the URL- and filename-safe base64 alphabet (RFC 4648 5),
 * as RFC 8484 6 uses it for the dns= parameter of a DoH GET: without padding.
 * A decoder that accepts exactly that (trailing '=' is tolerated, since some
 * clients send it), and rejects everything else: other characters, a length
 * that no encoding has (1 mod 4), and non-zero bits after the last byte. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/** Decode @len characters of @in into @out (room for @cap bytes). Returns the
 * number of bytes, or -1 when the text is not base64url or does not fit. */
long base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/** Encode @len bytes without padding into @out (room for @cap characters plus
 * a NUL). Returns the length of the text, or -1 when it does not fit. */
long base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/** Characters base64url_encode() writes for @n bytes. */
#define BASE64URL_LEN(n) (((n) * 4 + 2) / 3)
