/* The bcast family's constructors, by algorithm name (see core/stack.h). Kept apart from
 * the catalog (metadata only) so that what does not build stacks, the `strata` client, links
 * no protocol code. */
#include "bcast/byz.h"
#include "bcast/common.h"
#include "core/stack.h"

static const struct strata_ctor ctors[] = {
	{ "beb", bc_beb_create },
	{ "lrb", bc_lrb_create },
	{ "erb", bc_erb_create },
	{ "urb_allack", bc_urb_allack_create },
	{ "urb", bc_urb_create },
	{ "sbeb", bc_sbeb_create },
	{ "lbeb", bc_lbeb_create },
	{ "lurb", bc_lurb_create },
	{ "epb", bc_epb_create },
	{ "lpb", bc_lpb_create },
	{ "fifo", bc_fifo_create },
	{ "ncb", bc_ncb_create },
	{ "wcb", bc_wcb_create },
	{ "aeb", byzb_aeb_create },
	{ "seb", byzb_seb_create },
	{ "brb", byzb_brb_create },
	{ "bcc", byzb_bcc_create },
	{ "bcc-seb", byzb_bcc_seb_create },
	{ "brc", byzb_brc_create },
	{ NULL, NULL },
};

const struct strata_ctor *strata_bcast_ctors(void)
{
	return ctors;
}
