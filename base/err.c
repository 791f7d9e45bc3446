/* base/err: text for error codes. */
#include "base/err.h"

#include <string.h>

const char *tern_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case TERN_EMALFORMED: return "malformed input";
	case TERN_ELIMIT: return "limit reached";
	case TERN_ENOTFOUND: return "not found";
	case TERN_EBOGUS: return "DNSSEC bogus";
	case TERN_ESPACE: return "no space";
	case TERN_ECONFIG: return "configuration error";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
