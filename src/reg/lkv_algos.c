/* Algorithm table (see core/stack.h): lkv algorithms, the leaderless quorum store.
 *
 * Costs per operation, failure-free, N = replicas: with R + W > N a put consults R versions
 * first (4 steps), a get takes 2 steps, 4 when it must write back; with R + W <= N a put takes 2
 * steps and a get 2 (plus asynchronous read repair). Resilience is per key: a key stays
 * available while at most N - max(R, W) of its N replicas crashed, independent of the cluster's
 * f, so resilience_k is 0 and the module warns when f exceeds it. lkv-vc writes without
 * consulting (the dot orders nothing, the context says what a put supersedes): 2 steps each. */
#include "core/stack.h"
#include "reg/lkv.h"

static const struct strata_algo algos[] = {
	{ .name = "lkv", .family = "lkv",
	  .title = "Leaderless quorum KV (Dynamo): N/R/W, LWW, read repair, anti-entropy; "
		   "tolerates N-max(R,W) crashed replicas per key",
	  .book = "Alg. 4.10-4.11 quorums + Dynamo",
	  .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "put 4 (2 if R+W<=N), get 2-4",
	  .messages = "put 4N (2N if R+W<=N), get 2N-4N",
	  .wire_id = 160 },
	{ .name = "lkv-vc", .family = "lkv",
	  .title = "Leaderless quorum KV with vector-clock siblings: a get returns every "
		   "concurrent value and a context, a put with it supersedes them",
	  .book = "Dynamo + dotted version vectors",
	  .model = STRATA_MODEL_FAIL_SILENT, .resilience_k = 0,
	  .steps = "put 2, get 2",
	  .messages = "put 2N, get 2N",
	  .wire_id = 161 },
	{ .name = NULL },
};

const struct strata_algo *strata_lkv_algos(void)
{
	return algos;
}
