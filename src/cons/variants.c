/* The catalog rows of the chapter 6 consensus variants (variants.h, family
 * "variants"; docs/consensus-variants.md). Costs are per instance on the failure-free path, N
 * processes, over uhier (Alg. 5.4: 3 steps, about N^2 + 2N messages when one process leads). */
#include "cons/variants.h"
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = "nbac", .family = "variants",
	  .title = "Consensus-Based Non-Blocking Atomic Commit (over beb, P and uhier)",
	  .book = "Alg. 6.6", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 (beb of the votes) + 3 (uhier)",
	  .messages = "N^2 (votes) + those of one uhier instance",
	  .wire_id = VAR_WIRE_NBAC },
	{ .name = "trb", .family = "variants",
	  .title = "Consensus-Based Uniform Terminating Reliable Broadcast (over beb, P and uhier)",
	  .book = "Alg. 6.3", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 (beb from the sender) + 3 (uhier)",
	  .messages = "N (beb) + those of one uhier instance",
	  .wire_id = VAR_WIRE_TRB },
	{ .name = "gm", .family = "variants",
	  .title = "Consensus-Based Group Membership (over P and uhier)",
	  .book = "Alg. 6.7", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "3 (one uhier instance) per view change",
	  .messages = "those of one uhier instance per view change",
	  .wire_id = VAR_WIRE_GM },
	{ .name = NULL },
};

const struct strata_algo *strata_variants_algos(void)
{
	return algos;
}
