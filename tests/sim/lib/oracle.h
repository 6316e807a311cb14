/* The oracle perfect failure detector: a test module shared by the simulation suites that run
 * fail-stop algorithms (tests/sim/sim_cons.c, sim_bcast.c, sim_tob.c, sim_tob_kv.c,
 * sim_variants.c).
 *
 * P (perfect failure detector), indication <crash | p>:
 *   PFD1 strong completeness - eventually every process that crashes is detected by every
 *        correct process;
 *   PFD2 strong accuracy - if a process p is detected by any process, then p has crashed.
 * The module detects nothing by itself: the suite's driver, which crashes nodes, tells every
 * live node's oracle of each crash (sim_oracle_tell), and the oracle raises STRATA_EV_CRASH to
 * the modules stacked on it. Both properties hold by construction, whatever the network does,
 * so a run's outcome depends on the algorithm under test alone. Stateless: its memory is the
 * module struct, freed with the node.
 *
 * Use, in a suite's node build callback:  sim_oracle_add(n);   (registers it as the node's
 * STRATA_ROLE_FD under SIM_ORACLE_NAME, on wire id SIM_ORACLE_WIRE)
 * and when node `crashed` crashes, for each live node q:  sim_oracle_tell(s, q, id, crashed);
 * the request with id `id` is replied to at once (status 0); the suite filters those replies. */
#ifndef STRATA_TESTS_SIM_ORACLE_H
#define STRATA_TESTS_SIM_ORACLE_H

#include <stdint.h>

#include "core/node.h"
#include "rt/sim/sim.h"

#define SIM_ORACLE_NAME "oraclep"
#define SIM_ORACLE_WIRE 250

/* Adds an oracle to n and makes it the node's failure detector (STRATA_ROLE_FD). */
struct strata_module *sim_oracle_add(struct strata_node *n);

/* Tells node q's oracle that node `crashed` has crashed, with client request id `req_id`. */
void sim_oracle_tell(struct sim *s, uint32_t q, uint64_t req_id, uint32_t crashed);

#endif
