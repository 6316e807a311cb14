/* The bcast family's algorithm table (see core/stack.h). */
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = NULL },
};

const struct strata_algo *strata_bcast_algos(void)
{
	return algos;
}
