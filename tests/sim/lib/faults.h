/* Fault steps shared by the crash-model simulation suites (sim_bcast, sim_tob, sim_tob_cons,
 * sim_variants, sim_variants_fast, sim_variants_vs, and the consensus harness ld_harness with
 * sim_cons_brc): drawing a node that is up, and one chunk's partition or cut and its heal.
 * Each takes the suite's simulation and its own bookkeeping (node count, who is down), so any
 * suite's struct run can use it. The draws are the ones each suite made before they shared
 * this, in the same order, so a seed replays exactly. Stateless: no memory of its own. */
#ifndef STRATA_TESTS_SIM_FAULTS_H
#define STRATA_TESTS_SIM_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/sim/sim.h"

/* A node q of 1..n with !down[q], drawn at random (one draw); 0 when all are down. */
uint32_t simf_pick_up(struct sim *s, uint32_t n, const bool *down);

/* One chunk's network fault. With none in place (*parted false), with probability part_p (0:
 * never, and no draw) one: a random partition of 1..n in two, or with cuts either that or (one
 * draw decides) a one-way cut between two random nodes (none when they are the same). With one
 * in place, a heal with probability 0.15. */
void simf_partition_step(struct sim *s, uint32_t n, bool *parted, double part_p, bool cuts);

#endif
