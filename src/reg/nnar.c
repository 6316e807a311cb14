/* Read-Impose Write-Consult-Majority: an (N,N) atomic register (the book's Alg. 4.10-4.11,
 * fail-silent; multi-writer ABD).
 *
 * Module 4.3 (N,N) atomic register, instance nnar, per key:
 *   Events: <nnar, Read> / <nnar, ReadReturn | v>; <nnar, Write | v> / <nnar, WriteReturn>.
 *   NNAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   NNAR2 Atomicity: every failed operation appears to be complete or not invoked at all, and
 *         every complete operation appears to take effect at a single point between its
 *         invocation and its completion (linearizability).
 * Every process may write.
 *
 * Model: fail-silent, N > 2f.
 * Cost: write 4 steps, 4N messages (consult a majority for the highest ts, then write
 * (ts + 1, rank(self), v) to a majority); read 4 steps, 4N messages (query a majority, impose
 * the highest (ts, rank, v) on a majority, return v).
 *
 * Engine parameters (reg/quorum.c): consult-then-write timestamps, majority phases, read
 * queries then imposes. Faithful to the book (its readlist is our per-phase reply set).
 * Memory: reg/core.c's bounded key table and queue. */
#include "core/stack.h"
#include "reg/reg.h"

struct strata_module *reg_nnar_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_MAJORITY, .wts = REG_TS_CONSULT, .read_impose = true,
	};
	struct reg_mod *r =
		reg_quorum_new(n, "nnar", &q, false, true, err, errlen);
	return r ? &r->m : NULL;
}
