/* Node build steps shared by the simulation suites' build callbacks (struct sim_opts.build):
 * the failure-detector stack and a catalog module, each either built or the run aborts with
 * "build: <reason>" (a suite whose nodes cannot be built has nothing to test; the reason is
 * the one strata_fd_build or strata_algo_create gave). */
#ifndef STRATA_TESTS_SIM_BUILD_H
#define STRATA_TESTS_SIM_BUILD_H

#include "core/node.h"

/* strata_fd_build(n): the cluster model's failure detectors. */
void simb_fd(struct strata_node *n);
/* strata_algo_create of the catalog's algorithm `algo` on n; the module. */
struct strata_module *simb_algo(struct strata_node *n, const char *algo);

#endif
