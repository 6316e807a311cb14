/* String table for enum strata_err. */
#include "core/error.h"

const char *strata_strerror(int err)
{
	switch (err) {
	case STRATA_OK: return "ok";
	case STRATA_EINVAL: return "invalid argument";
	case STRATA_ENOMEM: return "out of memory";
	case STRATA_ETOOBIG: return "value too large";
	case STRATA_EPROTO: return "malformed message";
	case STRATA_EAUTH: return "authentication failed";
	case STRATA_EFULL: return "queue or window full";
	case STRATA_ENOENT: return "not found";
	case STRATA_EIO: return "input/output error";
	case STRATA_ECONFIG: return "configuration error";
	case STRATA_EMODEL: return "system model does not support this algorithm";
	case STRATA_ETIMEDOUT: return "timed out (outcome unknown)";
	case STRATA_ESTATE: return "not allowed in the current state";
	case STRATA_EREPLAY: return "replayed or stale message";
	case STRATA_ECRASHED: return "process crashed";
	case STRATA_ENOSPACE: return "space quota exceeded";
	default: return "unknown error";
	}
}
