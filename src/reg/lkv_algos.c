/* Algorithm table (see core/stack.h): lkv algorithms. */
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = NULL },
};

const struct strata_algo *strata_lkv_algos(void)
{
	return algos;
}
