/* The Byzantine registers' catalog rows (see core/stack.h): metadata only. Model of every row:
 * fail-arbitrary (Byzantine processes, authenticated perfect links); the single writer
 * cfg->writer is assumed correct, as in the book. Costs are on the failure-free path: steps =
 * message delays, messages for N processes. */
#include "core/stack.h"
#include "reg/byz.h"

static const struct strata_algo algos[] = {
	{ .name = "bmq", .family = "reg",
	  .title = "Byzantine Masking Quorum, (1,N) Byzantine safe register",
	  .book = "Alg. 4.14", .model = STRATA_MODEL_FAIL_ARBITRARY, .resilience_k = 4,
	  .steps = "write 2, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 144, .single_writer = true },
	{ .name = "adbq", .family = "reg",
	  .title = "Authenticated-Data Byzantine Quorum, (1,N) Byzantine regular register",
	  .book = "Alg. 4.15", .model = STRATA_MODEL_FAIL_ARBITRARY, .resilience_k = 3,
	  .steps = "write 2, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 145, .single_writer = true },
	{ .name = "dwbq", .family = "reg",
	  .title = "Double-Write Byzantine Quorum, (1,N) Byzantine regular register",
	  .book = "Sec. 4.7 (Double-Write Byzantine Quorum)", .model = STRATA_MODEL_FAIL_ARBITRARY,
	  .resilience_k = 3,
	  .steps = "write 4, read 2 (+2 per retry)", .messages = "write 4N, read 2N (+2N per retry)",
	  .wire_id = 146, .single_writer = true },
	{ .name = "bql", .family = "reg",
	  .title = "Byzantine Quorum with Listeners, (1,N) Byzantine atomic register",
	  .book = "Sec. 4.7 (Byzantine Quorum with Listeners)",
	  .model = STRATA_MODEL_FAIL_ARBITRARY, .resilience_k = 3,
	  .steps = "write 2, read 2 (+1 per concurrent write)",
	  .messages = "write 2N + N per listener, read 3N",
	  .wire_id = 147, .single_writer = true },
	{ .name = NULL },
};

const struct strata_algo *strata_reg_byz_algos(void)
{
	return algos;
}

