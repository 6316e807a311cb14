/* Algorithm table (see core/stack.h): the smr family, state-machine replication.
 *
 * kv: the replicated KV store over the leader-driven replicated log (log.c). Costs per
 * operation in the failure-free case with a stable leader, N nodes: a put sent to the leader
 * takes 2 steps (APPEND to the followers, their acknowledgements) and 2(N-1) messages, shared by
 * every command of the batch; a put sent to a follower adds the forward and the commit notice
 * (4 steps). A linearizable get at the leader takes one heartbeat round (2 steps, 2(N-1)
 * messages) shared by every get waiting at that moment; a serializable get takes none. */
#include "core/stack.h"
#include "smr/smr.h"

static const struct strata_algo algos[] = {
	{ .name = "kv", .family = "smr",
	  .title = "Replicated KV store: leader-driven replicated log (Multi-Paxos/Raft style), "
		   "batching, pipelining, ReadIndex reads, exactly-once sessions",
	  .book = "Alg. 5.7 generalised to a log + 6.1 (state-machine replication)",
	  .model = STRATA_MODEL_FAIL_NOISY, .resilience_k = 2,
	  .steps = "put 2 (4 via a follower), get 2, serializable get 0",
	  .messages = "put 2(N-1) per batch, get 2(N-1) per read round",
	  .wire_id = 208 },
	{ .name = NULL },
};

const struct strata_algo *strata_smr_algos(void)
{
	return algos;
}
