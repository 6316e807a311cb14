/* Algorithm table (see core/stack.h): reg byz algorithms. */
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = NULL },
};

const struct strata_algo *strata_reg_byz_algos(void)
{
	return algos;
}
