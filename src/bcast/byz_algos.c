/* Algorithm table (see core/stack.h): bcast byz algorithms. */
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = NULL },
};

const struct strata_algo *strata_bcast_byz_algos(void)
{
	return algos;
}
