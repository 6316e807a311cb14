/* The job handler family's constructors, by algorithm name (see core/stack.h). */
#include "core/stack.h"
#include "jh/jh.h"

static const struct strata_ctor ctors[] = {
	{ "jh-sync", jh_sync_create },
	{ "jh-async", jh_async_create },
	{ "jt", jh_jt_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_jh_ctors(void)
{
	return ctors;
}
