/* Online property checker for consensus simulations (tests/sim/sim_cons*.c).
 *
 * Records every client proposal (STRATA_OUT_BCAST of a consensus module: a = instance) and
 * every decision (STRATA_OUT_DELIVER: a = instance) of every node, and checks, as each is
 * recorded:
 *   validity   - a decided value was proposed by some process on that instance, before;
 *   integrity  - no process (incarnation) decides an instance twice;
 *   uniform agreement (when asked for) - no two processes decide differently, whoever they are.
 * At the end (cck_final), with the suite's verdict on who is correct:
 *   agreement   - no two correct processes decided differently;
 *   termination - every correct process decided every instance some correct process proposed.
 * A node's restart starts a new incarnation (cck_on_restart): integrity is per incarnation,
 * agreement and uniform agreement hold across incarnations (a decision is a decision).
 * Ownership: cck_new allocates, cck_free frees; values are copied. */
#ifndef STRATA_TESTS_SIM_CONS_CHECK_H
#define STRATA_TESTS_SIM_CONS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCK_MAX_NODES 8
#define CCK_MAX_INST 64
#define CCK_MAX_VAL 64

struct cck;

struct cck *cck_new(uint32_t n, bool uniform);
void cck_free(struct cck *c);

void cck_on_propose(struct cck *c, uint32_t node, uint64_t inst, const uint8_t *v, size_t len);
void cck_on_decide(struct cck *c, uint32_t node, uint64_t inst, const uint8_t *v, size_t len);
void cck_on_restart(struct cck *c, uint32_t node);

/* The first safety violation, or NULL. */
const char *cck_violation(const struct cck *c);
/* End of run. correct[q] (q = 1..n). 0, or 1 with why filled in. */
int cck_final(struct cck *c, const bool *correct, char *why, size_t whylen);

/* Decisions recorded so far (all nodes, all instances). */
uint64_t cck_decisions(const struct cck *c);

#endif
