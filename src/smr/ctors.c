/* The smr family's constructors, by algorithm name (see core/stack.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "smr/smr.h"
#include "core/stack.h"

/* "kv": the default log (log.c), or the state machine over tob with [smr] log = tob. */
static struct strata_module *kv_create(struct strata_node *n, char *err, size_t errlen)
{
	return smr_log_is_tob(strata_node_config(n)) ? smr_tobkv_create(n, err, errlen)
						     : smr_kv_create(n, err, errlen);
}

static const struct strata_ctor ctors[] = {
	{ "kv", kv_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_smr_ctors(void)
{
	return ctors;
}
