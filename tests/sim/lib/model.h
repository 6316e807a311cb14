/* Model monitor: tells a run that stayed inside its algorithm's model from one that left it.
 *
 * An algorithm is correct only under its model's assumptions. A fault schedule drawn at random
 * can break them - in a fail-stop run, loss and a partition long enough to trip P's timeout make
 * P detect a live process, and an algorithm relying on P's accuracy may then rightly break. Such
 * a run is "outside the model": the harness counts and prints it, and it is neither a pass nor a
 * failure of the algorithm (src/rt/sim/harness.h, SIM_OUTSIDE).
 *
 * Use, in a suite:
 *   struct sim_model m;
 *   sim_model_init(&m, cfg.model);
 *   ... in the sim_opts output callback:  sim_model_output(&m, s, node, o);
 *   ... for an assumption only the suite can see:  sim_model_leave(&m, "7 crashes > f = 2");
 *   ... at the end, after the checks:  return sim_model_verdict(&m, rc, why, wl);
 *
 * Assumptions watched by sim_model_output:
 *   fail-stop: P is accurate (PFD2) - no STRATA_OUT_FD "crashed" for an incarnation that is
 *              still running.
 * Other models have no assumption visible in the outputs: <>P and Omega may err before
 * stabilisation by definition, and fail-silent, fail-recovery, Byzantine and randomized
 * algorithms use no detector. Crash and Byzantine bounds are the suite's own schedule (the
 * suites draw at most f faults); a suite that can exceed them reports it with sim_model_leave.
 *
 * Memory: a fixed-size struct, no allocation. */
#ifndef STRATA_TESTS_SIM_LIB_MODEL_H
#define STRATA_TESTS_SIM_LIB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/node.h"
#include "rt/sim/sim.h"

struct sim_model {
	enum strata_model model;
	unsigned departures; /* how many times the run left the model */
	char why[256];       /* the first departure */
};

void sim_model_init(struct sim_model *m, enum strata_model model);
/* Watches one output of node `node` (call it from the suite's output callback). */
void sim_model_output(struct sim_model *m, struct sim *s, uint32_t node,
		      const struct strata_output *o);
/* Records a departure the suite itself observed. */
void sim_model_leave(struct sim_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool sim_model_left(const struct sim_model *m);
/* The seed's verdict: rc (SIM_PASS / SIM_FAIL from the suite's checks) when the run stayed in
 * the model; SIM_OUTSIDE otherwise, with why = the departure and what the checks said. */
int sim_model_verdict(const struct sim_model *m, int rc, char *why, size_t whylen);

#endif
