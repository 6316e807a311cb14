/* The smr family's constructors, by algorithm name (see core/stack.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "smr/smr.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "kv", smr_kv_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_smr_ctors(void)
{
	return ctors;
}
