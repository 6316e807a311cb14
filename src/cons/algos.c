/* The consensus family's algorithm table (see core/stack.h and docs/consensus.md).
 *
 * One module per algorithm, wire ids 176.. (cons.h). Costs are per consensus instance on the
 * failure-free path: communication steps until every correct process decides, and
 * point-to-point messages (N processes). */
#include "cons/cons.h"
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{ .name = "flood", .family = "cons", .title = "Flooding Consensus (regular)",
	  .book = "Alg. 5.1", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "2 (1 round + DECIDED); +1 round per crash",
	  .messages = "2N^2 (PROPOSAL and DECIDED floods); +N^2 per extra round",
	  .wire_id = CONS_WIRE_FLOOD },
	{ .name = "hier", .family = "cons", .title = "Hierarchical Consensus (regular)",
	  .book = "Alg. 5.2", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "N - 1 (process p decides after p - 1 steps)",
	  .messages = "N^2 (one DECIDED broadcast per rank) + N per announcing proposer",
	  .wire_id = CONS_WIRE_HIER },
	{ .name = "uflood", .family = "cons", .title = "Flooding Uniform Consensus",
	  .book = "Alg. 5.3", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "N (always N rounds)", .messages = "N^3 (N rounds of N^2)",
	  .wire_id = CONS_WIRE_UFLOOD },
	{ .name = "uhier", .family = "cons", .title = "Hierarchical Uniform Consensus",
	  .book = "Alg. 5.4", .model = STRATA_MODEL_FAIL_STOP, .resilience_k = 0,
	  .steps = "3 (PROPOSAL, ACK, DECIDED); +3 per crashed leader",
	  .messages = "2N + N^2 (eager rb of DECIDED) + N per announcing proposer",
	  .wire_id = CONS_WIRE_UHIER },
	{ .name = "ldc", .family = "cons",
	  .title = "Leader-Driven Consensus (epoch change + read/write epoch consensus)",
	  .book = "Alg. 5.5-5.7", .model = STRATA_MODEL_FAIL_NOISY, .resilience_k = 2,
	  .steps = "5 from the leader's proposal (READ, STATE, WRITE, ACCEPT, DECIDED), 6 from another process",
	  .messages = "5N (VALUE + 4N of epoch consensus); + N per epoch change",
	  .wire_id = CONS_WIRE_LDC, .wire_also = { CONS_WIRE_EC } },
	{ .name = "lldc", .family = "cons",
	  .title = "Logged Leader-Driven Consensus (logged epoch change + logged epoch consensus)",
	  .book = "Alg. 5.8-5.11", .model = STRATA_MODEL_FAIL_RECOVERY, .resilience_k = 2,
	  .steps = "as ldc: 5 from the leader's proposal; 1 synced store before ACCEPT and before DECIDED",
	  .messages = "5N (as ldc); + N per epoch change",
	  .wire_id = CONS_WIRE_LLDC, .wire_also = { CONS_WIRE_LEC } },
	{ .name = "rbc", .family = "cons",
	  .title = "Randomized Binary Consensus (threshold common coin; values 0 and 1)",
	  .book = "Alg. 5.12-5.13", .model = STRATA_MODEL_RANDOMIZED, .resilience_k = 2,
	  .steps = "2 per round (PHASE-1, PHASE-2) + 1 for the coin shares; 3 when all propose the same value (no coin), + DECIDED",
	  .messages = "4N^2 in a round that decides (PHASE-1, PHASE-2, COIN shares, DECIDED relays); + 3N^2 per extra round",
	  .wire_id = CONS_WIRE_RBC },
	{ .name = "rcons", .family = "cons",
	  .title = "Randomized Consensus with Large Domain (majority-ack uniform dissemination + rbc)",
	  .book = "Alg. 5.14", .model = STRATA_MODEL_RANDOMIZED, .resilience_k = 2,
	  .steps = "2 (urb of proposals) + one binary consensus per binary instance; 1 instance when bc.1 decides 1",
	  .messages = "N^3 + 4N^2 (uniform dissemination of N proposals, one binary instance deciding in its first round); + 3N^2 per extra binary round, + 4N^2 per extra binary instance",
	  .wire_id = CONS_WIRE_RCONS },
	{ .name = "brcons", .family = "cons",
	  .title = "Byzantine Randomized Binary Consensus (MMR BV-broadcast, AUX, CONF, threshold coin; values 0 and 1)",
	  .book = "Mostefaoui-Moumen-Raynal 2014/2015", .model = STRATA_MODEL_FAIL_ARBITRARY,
	  .resilience_k = 3,
	  .steps = "3 per round (EST with relays, AUX, CONF) + 1 for the coin shares, + DECIDED; expected O(1) rounds",
	  .messages = "about 5N^2 per round (EST and relays, AUX, CONF, COIN shares) + N^2 DECIDED",
	  .wire_id = CONS_WIRE_BRCONS },
	/* Total-order broadcast stands on consensus, so it lives here, in family "bcast" (what
	 * `strata bcast send|listen --algo tob` and the broadcast logs and checkers look for). */
	{ .name = "tob", .family = "bcast",
	  .title = "Consensus-Based Total-Order Broadcast (over erb and [tob] consensus, default ldc)", .book = "Alg. 6.1",
	  .model = STRATA_MODEL_FAIL_NOISY, .resilience_k = 2,
	  .steps = "1 (rb) + 5 (one ldc consensus per batch) + the wait for the previous batch",
	  .messages = "O(N^2) per message (rb) + 5N per batch (ldc)",
	  .wire_id = CONS_WIRE_TOB },
	{ .name = "ltob", .family = "bcast",
	  .title = "Logged Uniform Total-Order Broadcast (over lurb and lldc)", .book = "Alg. 6.12",
	  .model = STRATA_MODEL_FAIL_RECOVERY, .resilience_k = 2,
	  .steps = "2 (lurb) + 5 (one lldc consensus per batch) + the wait for the previous batch",
	  .messages = "O(N^2) per message (lurb, + retransmissions until collected) + 5N per batch (lldc); 1 log record per round",
	  .wire_id = CONS_WIRE_LTOB },
	{ .name = "tob-consensus", .family = "cons",
	  .title = "Consensus from Total-Order Broadcast (over tob)", .book = "seed 8.6",
	  .model = STRATA_MODEL_FAIL_NOISY, .resilience_k = 2,
	  .steps = "those of one tob broadcast: 1 (rb) + 5 (ldc) + the wait for the previous batch",
	  .messages = "those of one tob broadcast per proposer: O(N^2) (rb) + 5N per batch (ldc)",
	  .wire_id = CONS_WIRE_TOB_CONS },
	{ .name = NULL },
};

const struct strata_algo *strata_cons_algos(void)
{
	return algos;
}
