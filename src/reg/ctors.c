/* The reg family's constructors, by algorithm name (see core/stack.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "core/assert.h"
#include "core/error.h"
#include "reg/byz.h"
#include "reg/reg.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "rowa", reg_rowa_create },
	{ "mv", reg_mv_create },
	{ "lmv", reg_lmv_create },
	{ "riwa", reg_riwa_create },
	{ "riwm", reg_riwm_create },
	{ "riwca", reg_riwca_create },
	{ "nnar", reg_nnar_create },
	{ "reg2atomic11", reg_reg2atomic11_create },
	{ "atomic11to1n", reg_atomic11to1n_create },
	{ "atomic1nton", reg_atomic1nton_create },
	{ "bmq", reg_bmq_create },
	{ "adbq", reg_adbq_create },
	{ "dwbq", reg_dwbq_create },
	{ "bql", reg_bql_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_reg_ctors(void)
{
	return ctors;
}
