/* The catalog rows of the chapter 6 consensus variants (variants.h, family
 * "variants"; docs/consensus-variants.md). Costs are per instance on the failure-free path, N
 * processes, over uhier (Alg. 5.4: 3 steps, about N^2 + 2N messages when one process leads). */
#include "cons/cons.h"
#include "cons/variants.h"
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = "nbac", .family = "variants",
	  .title = "Consensus-Based Non-Blocking Atomic Commit (over beb, P and uhier)",
	  .book = "Alg. 6.6", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 (beb of the votes) + 3 (uhier)",
	  .messages = "N^2 (votes) + those of one uhier instance",
	  .wire_id = 200 },
	{ .name = "trb", .family = "variants",
	  .title = "Consensus-Based Uniform Terminating Reliable Broadcast (over beb, P and uhier)",
	  .book = "Alg. 6.3", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 (beb from the sender) + 3 (uhier)",
	  .messages = "N (beb) + those of one uhier instance",
	  .wire_id = 201 },
	{ .name = "gm", .family = "variants",
	  .title = "Consensus-Based Group Membership (over P and uhier)",
	  .book = "Alg. 6.7", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "3 (one uhier instance) per view change",
	  .messages = "those of one uhier instance per view change",
	  .wire_id = 202 },
	{ .name = "vs", .family = "variants",
	  .title = "TRB-Based View Synchrony (over gm, beb, P and uhier)",
	  .book = "Alg. 6.8-6.9", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 (DATA) per message; 3 (gm) + 1 + 3 (one trb per member) per view change",
	  .messages = "N per message; gm's, and N^2 + N uhier instances per view change",
	  .wire_id = 199 },
	{ .name = "uvs", .family = "variants",
	  .title = "Consensus-Based Uniform View Synchrony (over beb, P and uhier)",
	  .book = "Alg. 6.10-6.11", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "2 (DATA, relays) per message; 1 (PENDING) + 3 (uhier) per view change",
	  .messages = "N^2 per message; N^2 + those of one uhier instance per view change",
	  .wire_id = 205 },
	{ .name = "fast-uhier", .family = "cons",
	  .title = "From Uniform Consensus to Uniform Fast Consensus, over uhier (N > 3f: f = (N-1)/3)",
	  .book = "Alg. 6.4", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 when all proposals agree, else 1 + 3 (uhier)",
	  .messages = "N^2 + those of one uhier instance",
	  .wire_id = 203 },
	{ .name = "fast-uflood", .family = "cons",
	  .title = "From Uniform Consensus to Uniform Fast Consensus, over uflood (N > 3f: f = (N-1)/3)",
	  .book = "Alg. 6.4", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "1 when all proposals agree, else 1 + N (uflood)",
	  .messages = "N^2 + those of one uflood instance",
	  .wire_id = 204 },
	{ .name = "fast-sbc", .family = "cons",
	  .title = "From Byzantine Consensus to Fast Byzantine Consensus, over sbc (strong Byzantine consensus, Alg. 5.20, over bldc)",
	  .book = "Alg. 6.5", .model = STRATA_MODEL_FAIL_ARBITRARY, .resilience_k = 5,
	  .steps = "1 when all correct proposals agree, else 1 + those of sbc (1 + 6 over bldc)",
	  .messages = "N^2 (al) + those of one sbc instance",
	  .wire_id = 188 },
	{ .name = NULL },
};

const struct strata_algo *strata_variants_algos(void)
{
	return algos;
}
