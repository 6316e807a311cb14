/* Error codes shared by every strata function.
 *
 * Functions return 0 on success or one of the negative codes below. Operating errors (bad input
 * from a peer, a client, a file) are reported through these codes and counted; programmer errors
 * are caught by STRATA_ASSERT, which stays on in every build. */
#ifndef STRATA_CORE_ERROR_H
#define STRATA_CORE_ERROR_H

enum strata_err {
	STRATA_OK = 0,
	STRATA_EINVAL = -1,    /* invalid argument or request */
	STRATA_ENOMEM = -2,    /* allocation failed */
	STRATA_ETOOBIG = -3,   /* value larger than the configured maximum */
	STRATA_EPROTO = -4,    /* malformed wire data */
	STRATA_EAUTH = -5,     /* MAC or signature did not verify */
	STRATA_EFULL = -6,     /* a bounded queue, window or table is full: back off and retry */
	STRATA_ENOENT = -7,    /* no such key, peer, module or instance */
	STRATA_EIO = -8,       /* stable storage or socket failure */
	STRATA_ECONFIG = -9,   /* configuration error */
	STRATA_EMODEL = -10,   /* algorithm needs more than the system model gives */
	STRATA_ETIMEDOUT = -11,/* no answer in time: the outcome is unknown */
	STRATA_ESTATE = -12,   /* operation not allowed in the current state (e.g. not the writer) */
	STRATA_EREPLAY = -13,  /* replayed or stale wire data */
	STRATA_ECRASHED = -14, /* the target process is known to have crashed; also the answer of a
				* node that stops on a storage failure: outcome unknown */
	STRATA_ENOSPACE = -15, /* a space quota is reached: nothing was done; make room first */
};

/* Static string for a code; never NULL. */
const char *strata_strerror(int err);

#endif
