/* Read-Impose Write-All: a (1,N) atomic register (the book's Alg. 4.5, fail-stop).
 *
 * Module 4.2 (1,N) atomic register, instance onar, per key:
 *   Events: <onar, Read> / <onar, ReadReturn | v>; <onar, Write | v> / <onar, WriteReturn>.
 *   ONAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   ONAR2 Validity: as ONRR2 (regular).
 *   ONAR3 Ordering: if a read returns v and a later read returns w, then the write of w does not
 *         precede the write of v.
 * Only the writer (cfg->writer) writes; any process reads.
 *
 * Model: fail-stop (P through the node's fd role); any number of crashes.
 * Cost: write 2 steps, 2N messages; read 2 steps, 2N messages: the reader imposes its local
 * (ts, value) on every process P has not detected before returning it, so no later read can
 * return an older value.
 *
 * Engine parameters (reg/quorum.c): writer's counter, phases wait for every undetected process,
 * read = local copy then impose. Faithful to the book. Memory: reg/core.c's bounded key table. */
#include "core/stack.h"
#include "reg/reg.h"

struct strata_module *reg_riwa_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_ALL_CORRECT, .wts = REG_TS_WRITER, .read_local = true,
		.read_impose = true,
	};
	struct reg_mod *r =
		reg_quorum_new(n, "riwa", &q, true, true, err, errlen);
	return r ? &r->m : NULL;
}
