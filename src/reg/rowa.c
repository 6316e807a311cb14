/* Read-One Write-All: a (1,N) regular register (the book's Alg. 4.1, fail-stop).
 *
 * Module 4.1 (1,N) regular register, instance onrr, per key:
 *   Events: <onrr, Read> / <onrr, ReadReturn | v>; <onrr, Write | v> / <onrr, WriteReturn>.
 *   ONRR1 Termination: if a correct process invokes an operation, the operation eventually
 *         completes.
 *   ONRR2 Validity: a read that is not concurrent with a write returns the last value written;
 *         a read that is concurrent with a write returns the last value written or the value
 *         concurrently written.
 * Only the writer (cfg->writer) writes; any process reads.
 *
 * Model: fail-stop (crash-stop with the perfect failure detector P, found through the node's fd
 * role); any number of crashes (f < N). Resilience is P's: the book's algorithm needs no quorum.
 * Cost: write 2 steps, 2N messages (WRITE to all, ACK from every process P has not detected);
 * read 0 steps, 0 messages (the local copy).
 *
 * How the engine (reg/quorum.c) runs it: write timestamp = the writer's counter, phases wait for
 * every process not detected by P, read = the local copy, no impose. The book's WRITE carries no
 * timestamp; ours does so that a replica can ignore a retransmitted older WRITE, which perfect
 * links already rule out: a faithful transcription otherwise. Memory: reg/core.c's bounded key
 * table (REG_MAX_KEYS keys, one copy each) and per-key queue. */
#include "core/stack.h"
#include "reg/reg.h"

struct strata_module *reg_rowa_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_ALL_CORRECT, .wts = REG_TS_WRITER, .read_local = true,
	};
	struct reg_mod *r =
		reg_quorum_new(n, "rowa", &q, true, true, err, errlen);
	return r ? &r->m : NULL;
}
