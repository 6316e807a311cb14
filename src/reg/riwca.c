/* Read-Impose Write-Consult-All: an (N,N) atomic register (the book's Alg. 4.9, fail-stop).
 *
 * Module 4.3 (N,N) atomic register, instance nnar, per key:
 *   Events: <nnar, Read> / <nnar, ReadReturn | v>; <nnar, Write | v> / <nnar, WriteReturn>.
 *   NNAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   NNAR2 Atomicity: every failed operation appears to be complete or not invoked at all, and
 *         every complete operation appears to take effect at a single point between its
 *         invocation and its completion (linearizability).
 * Every process may write.
 *
 * Model: fail-stop (P through the node's fd role); any number of crashes.
 * Cost: write 2 steps, 2N messages; read 2 steps, 2N messages.
 *
 * Values carry timestamps (ts, rank) ordered lexicographically, rank = the writer's id. A write
 * needs no consult phase: every completed write reached every undetected process, so the local
 * copy's ts already bounds every completed write's, and the writer's rank breaks ties between
 * concurrent writers. A read imposes its local (ts, rank, value) on every undetected process.
 * Engine parameters (reg/quorum.c): local ts + 1 with rank, all-correct phases, read local then
 * impose. Faithful to the book. Memory: reg/core.c's bounded key table and queue. */
#include "core/stack.h"
#include "reg/reg.h"

struct strata_module *reg_riwca_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_ALL_CORRECT, .wts = REG_TS_LOCAL_NN, .read_local = true,
		.read_impose = true,
	};
	struct reg_mod *r =
		reg_quorum_new(n, "riwca", &q, false, true, err, errlen);
	return r ? &r->m : NULL;
}
