/* Fault steps shared by the simulation suites (sim_bcast, sim_tob, sim_tob_cons, sim_variants,
 * sim_variants_fast, sim_variants_vs, the consensus harness ld_harness with sim_cons_brc, and
 * the partitions of sim_btob and sim_fd_ele): drawing a node that is up, one chunk's partition
 * or cut and its heal, and a crash that the perfect failure detector reports to every live node.
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

/* The id of the next oracle request to node q, from the suite's own request bookkeeping. */
typedef uint64_t (*simf_req_fn)(void *arg, uint32_t q);

/* Crashes the k nodes ids[0..k) (k = 1 or 2) at once and marks them down. With req (a cluster
 * with P: strong completeness and accuracy, by construction) every live node's oracle is then
 * told of each crash (sim_oracle_tell, the request id from req(arg, q)), the live nodes in id
 * order; of two crashes each live node learns in an order of its own (one draw per live node,
 * swapping when it is 1: P orders nothing across processes). req NULL: nothing is told and
 * nothing drawn (no detector, or the suite's oracle is off). */
void simf_crash(struct sim *s, uint32_t n, bool *down, const uint32_t *ids, unsigned k,
		simf_req_fn req, void *arg);

#endif
