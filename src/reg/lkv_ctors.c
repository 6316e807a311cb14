/* The lkv family's constructors, by algorithm name (see core/stack.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "reg/lkv.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "lkv", lkv_create },
	{ "lkv-vc", lkv_vc_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_lkv_ctors(void)
{
	return ctors;
}
