/* The bcast family's algorithm table (see core/stack.h and docs/broadcast.md).
 *
 * One module per algorithm; its wire id is the row's (the module asks strata_wire_id at creation).
 * Costs are per broadcast on the failure-free path: communication steps until every correct
 * process delivers, and point-to-point messages (N processes, k = fanout, R = rounds). */
#include "bcast/common.h"
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = "beb", .family = "bcast", .title = "Basic Broadcast (best-effort)",
	  .book = "Alg. 3.1", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "1", .messages = "N", .wire_id = 32 },
	{ .name = "lrb", .family = "bcast", .title = "Lazy Reliable Broadcast (regular)",
	  .book = "Alg. 3.2", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 (2 when the sender crashes)",
	  .messages = "N (+ N per relaying process when the sender crashes) + GC acks",
	  .wire_id = 33 },
	{ .name = "erb", .family = "bcast", .title = "Eager Reliable Broadcast (regular)",
	  .book = "Alg. 3.3", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "1", .messages = "O(N^2)", .wire_id = 34 },
	{ .name = "urb_allack", .family = "bcast",
	  .title = "All-Ack Uniform Reliable Broadcast", .book = "Alg. 3.4",
	  .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0, .steps = "2",
	  .messages = "O(N^2)", .wire_id = 35 },
	{ .name = "urb", .family = "bcast", .title = "Majority-Ack Uniform Reliable Broadcast",
	  .book = "Alg. 3.5", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 2, .steps = "2",
	  .messages = "O(N^2)", .wire_id = 36 },
	{ .name = "sbeb", .family = "bcast", .title = "Basic Stubborn Broadcast",
	  .book = "Alg. 3.6", .model = STRATA_MODEL_FAIL_RECOVERY, .resilience_k = 0,
	  .steps = "1", .messages = "N, then N per retransmission period",
	  .wire_id = 37 },
	{ .name = "lbeb", .family = "bcast", .title = "Logged Basic Broadcast",
	  .book = "Alg. 3.7", .model = STRATA_MODEL_FAIL_RECOVERY, .resilience_k = 0,
	  .steps = "1", .messages = "N (+ stubborn retransmissions), 1 log write per delivery",
	  .wire_id = 38 },
	{ .name = "lurb", .family = "bcast",
	  .title = "Logged Majority-Ack Uniform Reliable Broadcast", .book = "Alg. 3.8",
	  .model = STRATA_MODEL_FAIL_RECOVERY, .resilience_k = 2, .steps = "2",
	  .messages = "O(N^2) (+ retransmissions until collected), 3 log writes per process",
	  .wire_id = 39 },
	{ .name = "epb", .family = "bcast", .title = "Eager Probabilistic Broadcast (gossip)",
	  .book = "Alg. 3.9", .model = STRATA_MODEL_RANDOMIZED, .resilience_k = 0,
	  .steps = "<= R (R = [bcast] rounds, default 4)",
	  .messages = "<= k + k^2 + ... + k^R (k = fanout, R = rounds; defaults 3, 4)",
	  .wire_id = 40 },
	{ .name = "lpb", .family = "bcast", .title = "Lazy Probabilistic Broadcast (gossip + repair)",
	  .book = "Alg. 3.10-3.11", .model = STRATA_MODEL_RANDOMIZED, .resilience_k = 0,
	  .steps = "<= R (+ repair)",
	  .messages = "as epb + k requests per missing message (k = fanout, R = rounds)",
	  .wire_id = 41 },
	{ .name = "fifo", .family = "bcast", .title = "Broadcast with Sequence Number (FIFO RB)",
	  .book = "Alg. 3.12", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "1", .messages = "O(N^2)", .wire_id = 42 },
	{ .name = "ncb", .family = "bcast",
	  .title = "No-Waiting Causal Broadcast with garbage collection of the causal past",
	  .book = "Alg. 3.13-3.14", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1", .messages = "O(N^2) (carrying the causal past) + GC acks",
	  .wire_id = 43 },
	{ .name = "wcb", .family = "bcast", .title = "Waiting Causal Broadcast (vector clocks)",
	  .book = "Alg. 3.15", .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "1", .messages = "O(N^2), N integers each", .wire_id = 44 },
	{ .name = NULL },
};

const struct strata_algo *strata_bcast_algos(void)
{
	return algos;
}
