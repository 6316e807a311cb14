/* A lossy best-effort broadcast: a test module shared by sim_cons and sim_bcast, to show that
 * an algorithm really stands on the broadcast below it.
 *
 * Registered as "beb" (or as "sbeb", under a fail-recovery algorithm) before the algorithm is
 * created, so an algorithm that stacks on it (bcast_open) gets this one: it implements the
 * broadcast interface, but a broadcast reaches each other process only with probability 1/2
 * and is never retried (it still delivers to itself). It keeps no delivered window: perfect
 * links deliver each frame once. Replacing the real beb by it under erb must break agreement,
 * under flood termination or agreement, under lldc (and lec) termination; replacing sbeb (which
 * would retransmit forever) under lbeb must break validity. Deliberately broken: never used by
 * stratad. Memory: the module struct and up to 4 upper instances' subscriptions, freed with the
 * node. */
#ifndef STRATA_TESTS_SIM_LOSSY_BEB_H
#define STRATA_TESTS_SIM_LOSSY_BEB_H

#include <stdbool.h>

#include "core/node.h"

/* Adds a lossy beb to n, named "beb" on beb's wire id, or with as_sbeb "sbeb" on sbeb's. */
void sim_lossy_beb_add(struct strata_node *n, bool as_sbeb);

#endif
