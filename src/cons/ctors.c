/* The cons family's constructors, by algorithm name (see core/stack.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "cons/cons.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "flood", cons_flood_create },
	{ "hier", cons_hier_create },
	{ "uflood", cons_uflood_create },
	{ "uhier", cons_uhier_create },
	{ "ldc", cons_ldc_create },
	{ "lldc", cons_lldc_create },
	{ "tob", cons_tob_create },
	{ "btob", cons_btob_create },
	{ "tob-consensus", cons_tob_cons_create },
	{ "ltob", cons_ltob_create },
	{ "rbc", cons_rbc_create },
	{ "rcons", cons_rcons_create },
	{ "brcons", cons_brcons_create },
	{ "bldc", cons_bldc_create },
	{ "sbc", cons_sbc_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_cons_ctors(void)
{
	return ctors;
}
