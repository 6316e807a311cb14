/* The constructors of the chapter 6 consensus variants, by algorithm name (see core/stack.h).
 * Kept apart from the catalog rows (variants.c) so that the `strata` client links no protocol
 * code. */
#include "cons/variants.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "nbac", var_nbac_create },
	{ "trb", var_trb_create },
	{ "gm", var_gm_create },
	{ "uvs", var_uvs_create },
	{ "vs", var_vs_create },
	{ "fast-uhier", var_fast_uhier_create },
	{ "fast-uflood", var_fast_uflood_create },
	{ "fast-sbc", var_fast_sbc_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_variants_ctors(void)
{
	return ctors;
}
