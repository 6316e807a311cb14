/* The reg family's algorithm table (see core/stack.h).
 *
 * One row per client-facing register; the module takes its wire id from its row
 * (strata_wire_id). A composition's private lower modules are created by its own constructor and
 * take the ids of its span, right after its own: reg2atomic11 104 (+105 its mv), atomic11to1n
 * 106 (+107 its reg2atomic11, +108 that one's mv), atomic1nton 110 (+111 its riwm). To add an
 * algorithm, append a row before the terminator with a wire id no row claims (test_catalog checks
 * it) and declare its constructor in its own header. Costs are per operation
 * on the failure-free path: steps = message delays, messages for N processes. */
#include "core/stack.h"
#include "reg/reg.h"

static const struct strata_algo algos[] = {
	{ .name = "rowa", .family = "reg",
	  .title = "Read-One Write-All, (1,N) regular register",
	  .book = "Alg. 4.1", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "write 2, read 0", .messages = "write 2N, read 0",
	  .wire_id = 96, .single_writer = true },
	{ .name = "mv", .family = "reg",
	  .title = "Majority Voting, (1,N) regular register",
	  .book = "Alg. 4.2", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 2,
	  .steps = "write 2, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 97, .single_writer = true },
	{ .name = "lmv", .family = "reg",
	  .title = "Logged Majority Voting, (1,N) regular register with crash-recovery",
	  .book = "Sec. 4.5 (logged Alg. 4.2)", .model = STRATA_MODEL_FAIL_RECOVERY,
	  .resilience_k = 2,
	  .steps = "write 2 + store, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 98, .single_writer = true },
	{ .name = "riwa", .family = "reg",
	  .title = "Read-Impose Write-All, (1,N) atomic register",
	  .book = "Alg. 4.5", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "write 2, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 99, .single_writer = true },
	{ .name = "riwm", .family = "reg",
	  .title = "Read-Impose Write-Majority, (1,N) atomic register",
	  .book = "Alg. 4.6-4.7", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 2,
	  .steps = "write 2, read 4", .messages = "write 2N, read 4N",
	  .wire_id = 100, .single_writer = true },
	{ .name = "riwca", .family = "reg",
	  .title = "Read-Impose Write-Consult-All, (N,N) atomic register",
	  .book = "Alg. 4.9", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "write 2, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 101 },
	{ .name = "nnar", .family = "reg",
	  .title = "Read-Impose Write-Consult-Majority, (N,N) atomic register",
	  .book = "Alg. 4.10-4.11", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 2,
	  .steps = "write 4, read 4", .messages = "write 4N, read 4N",
	  .wire_id = 102 },
	{ .name = "reg2atomic11", .family = "reg",
	  .title = "(1,N) regular to (1,1) atomic transformation, over Majority Voting",
	  .book = "Alg. 4.3 over 4.2", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 2,
	  .steps = "write 2, read 2", .messages = "write 2N, read 2N",
	  .wire_id = 104, .wire_span = 2, .single_writer = true },
	{ .name = "atomic11to1n", .family = "reg",
	  .title = "(1,1) atomic to (1,N) atomic transformation, over Alg. 4.3 over Majority Voting",
	  .book = "Alg. 4.4 over 4.3 over 4.2", .model = STRATA_MODEL_FAIL_SILENT,
	  .resilience_k = 2,
	  .steps = "write 2, read 4", .messages = "write 2N^2, read 4N^2",
	  .wire_id = 106, .wire_span = 3, .single_writer = true },
	{ .name = "atomic1nton", .family = "reg",
	  .title = "(1,N) atomic to (N,N) atomic transformation, over Read-Impose Write-Majority",
	  .book = "Alg. 4.8 over 4.6-4.7", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 2,
	  .steps = "write 6, read 4", .messages = "write 4N^2+2N, read 4N^2",
	  .wire_id = 110, .wire_span = 2 },
	{ .name = NULL },
};

const struct strata_algo *strata_reg_algos(void)
{
	return algos;
}
