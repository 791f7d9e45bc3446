/* base/err: error codes shared by every room.
 * Functions return 0 on success or a negative code: -errno (as libuv does on Unix)
 * or a project code in its own range below -1000, out of errno's way. */
#pragma once

enum tern_err {
	TERN_EMALFORMED = -1000, /* bytes that break the format: FORMERR or drop */
	TERN_ELIMIT,             /* a hard limit was reached: fail this query only */
	TERN_ENOTFOUND,          /* absent or expired */
	TERN_EBOGUS,             /* DNSSEC verdict: bogus */
	TERN_ESPACE,             /* does not fit in the buffer */
	TERN_ECONFIG,            /* configuration error, already reported */
};

/** Text for a negative code (ours or -errno). Static storage. */
const char *tern_strerror(int err);
