/* The job handler family's algorithm table (see core/stack.h and docs/first-module.md).
 *
 * Local modules: no messages, no wire id (0: not addressable by peers). They need nothing from
 * the model beyond a process, so they are listed under the weakest crash-stop model
 * (fail-silent), which every crash-stop cluster runs. */
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = "jh-sync", .family = "jh", .title = "Job Handler, synchronous (process, then confirm)",
	  .book = "seed 1.1.4", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "0 (local): Confirm after the job's processing delay",
	  .messages = "0", .wire_id = 0 },
	{ .name = "jh-async", .family = "jh",
	  .title = "Job Handler, asynchronous (confirm, buffer, process later)", .book = "seed 1.1.4",
	  .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "0 (local): Confirm at once (one synced store), processing later",
	  .messages = "0", .wire_id = 0 },
	{ .name = "jt", .family = "jh",
	  .title = "Job Transformer, a layered module over jh-async", .book = "seed 1.1.3",
	  .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "0 (local): as jh-async", .messages = "0", .wire_id = 0 },
	{ .name = NULL },
};

const struct strata_algo *strata_jh_algos(void)
{
	return algos;
}
