/* Read-Impose Write-Majority: a (1,N) atomic register (the book's Alg. 4.6-4.7, fail-silent;
 * the single-writer form of Attiya, Bar-Noy and Dolev).
 *
 * Module 4.2 (1,N) atomic register, instance onar, per key:
 *   Events: <onar, Read> / <onar, ReadReturn | v>; <onar, Write | v> / <onar, WriteReturn>.
 *   ONAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   ONAR2 Validity: as ONRR2 (regular).
 *   ONAR3 Ordering: if a read returns v and a later read returns w, then the write of w does not
 *         precede the write of v.
 * Only the writer writes (cfg->writer for clients; for the private instances of Alg. 4.8, the
 * process whose register it is).
 *
 * Model: fail-silent, N > 2f (majority quorums intersect).
 * Cost: write 2 steps, 2N messages; read 4 steps, 4N messages (query a majority, then impose
 * the highest (ts, value) on a majority before returning it).
 *
 * Engine parameters (reg/quorum.c): writer's counter, majority phases, read queries then
 * imposes. Faithful to the book. Memory: reg/core.c's bounded key table and queue. */
#include "core/stack.h"
#include "reg/reg.h"

struct reg_mod *reg_riwm_new(struct strata_node *n, const char *name, bool client, char *err,
			     size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_MAJORITY, .wts = REG_TS_WRITER, .read_impose = true,
	};
	return reg_quorum_new(n, name, &q, true, client, err, errlen);
}

struct strata_module *reg_riwm_create(struct strata_node *n, char *err, size_t errlen)
{
	struct reg_mod *r = reg_riwm_new(n, "riwm", true, err, errlen);
	return r ? &r->m : NULL;
}
