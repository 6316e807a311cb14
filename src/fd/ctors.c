/* The fd family's constructors, by algorithm name (see core/stack.h), and the rule that picks
 * the one detector and leader module a node runs (strata_fd_build, fd/fd.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "core/error.h"
#include "fd/fd.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "p", strata_fd_p_create },
	{ "le", strata_fd_le_create },
	{ "evp", strata_fd_evp_create },
	{ "omega", strata_fd_omega_create },
	{ "ele", strata_fd_ele_create },
	{ "bld", strata_fd_bld_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_fd_ctors(void)
{
	return ctors;
}

int strata_fd_build(struct strata_node *n, char *err, size_t errlen)
{
	/* Fail-stop gets P and LE; fail-recovery <>P (observing) and Elect Lower Epoch. Every other
	 * model gets <>P and Omega: fail-noisy algorithms use them; under fail-silent,
	 * fail-arbitrary and randomized they only observe
	 * (status, watch), because no algorithm of those models may depend on them. */
	enum strata_model model = strata_node_config(n)->model;
	bool fail_stop = model == STRATA_MODEL_FAIL_STOP;
	struct strata_module *(*detector)(struct strata_node *, char *, size_t) =
		fail_stop ? strata_fd_p_create : strata_fd_evp_create;
	/* Crash-recovery: Elect Lower Epoch (Alg. 2.9), the Omega of that model (lldc's). */
	struct strata_module *(*leader)(struct strata_node *, char *, size_t) =
		fail_stop ? strata_fd_le_create
		: model == STRATA_MODEL_FAIL_RECOVERY ? strata_fd_ele_create
						      : strata_fd_omega_create;
	if (!detector(n, err, errlen) || !leader(n, err, errlen))
		return STRATA_ECONFIG;
	return 0;
}
