/* Majority Voting: a (1,N) regular register (the book's Alg. 4.2, fail-silent).
 *
 * Module 4.1 (1,N) regular register, instance onrr, per key:
 *   Events: <onrr, Read> / <onrr, ReadReturn | v>; <onrr, Write | v> / <onrr, WriteReturn>.
 *   ONRR1 Termination: if a correct process invokes an operation, the operation eventually
 *         completes.
 *   ONRR2 Validity: a read that is not concurrent with a write returns the last value written;
 *         a read that is concurrent with a write returns the last value written or the value
 *         concurrently written.
 * Only the writer (cfg->writer, or for a private instance the composition's writer) writes.
 *
 * Model: fail-silent (crash-stop, no failure detector), N > 2f: every phase waits for a
 * majority, and any two majorities intersect, so a read's majority contains a process that
 * holds the last completed write.
 * Cost: write 2 steps, 2N messages (WRITE to all, ACKs); read 2 steps, 2N messages (READ to all,
 * VALUEs), returning the value with the highest timestamp.
 *
 * Engine parameters (reg/quorum.c): writer's counter wts, majority phases, read queries, no
 * impose — the book's pseudocode step for step (rid names the read, ts the write). Memory:
 * reg/core.c's bounded key table and queue. Reads are not atomic: two sequential reads
 * concurrent with one write may see new then old (tests/sim/sim_reg.c shows the checker
 * rejecting such a history). */
#include "core/stack.h"
#include "reg/reg.h"

struct reg_mod *reg_mv_new(struct strata_node *n, const char *name, bool client, char *err,
			   size_t errlen)
{
	const struct reg_quorum_params q = { .quorum = REG_Q_MAJORITY, .wts = REG_TS_WRITER };
	return reg_quorum_new(n, name, &q, true, client, err, errlen);
}

struct strata_module *reg_mv_create(struct strata_node *n, char *err, size_t errlen)
{
	struct reg_mod *r = reg_mv_new(n, "mv", true, err, errlen);
	return r ? &r->m : NULL;
}
