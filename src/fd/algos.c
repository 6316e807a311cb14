/* The fd family's algorithm table (see core/stack.h) and the rule that picks, per model, the one
 * detector and the one leader module a node runs (see fd/fd.h).
 *
 * strata_stack_build() calls strata_fd_build() instead of instantiating every fd entry the model
 * supports: a fail-stop cluster "supports" fail-noisy algorithms too, but running P and <>P side
 * by side would give the node two views and two leaders. The table still lists all four, for
 * `strata fd algos`, with the model each needs. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"

static const struct strata_algo algos[] = {
	{
		.name = "p",
		.family = "fd",
		.title = "Exclude on Timeout, perfect failure detector P",
		.book = "Alg. 2.5",
		.model = STRATA_MODEL_FAIL_STOP,
		.steps = "detection within timeout + max delay",
		.messages = "N-1 heartbeats per period per node",
		.wire_id = 1,
	},
	{
		.name = "le",
		.family = "fd",
		.title = "Monarchical Leader Election, leader election over P",
		.book = "Alg. 2.6",
		.model = STRATA_MODEL_FAIL_STOP,
		.steps = "0 beyond P",
		.messages = "0 beyond P",
		.wire_id = 2,
	},
	{
		.name = "evp",
		.family = "fd",
		.title = "Increasing Timeout, eventually perfect failure detector <>P",
		.book = "Alg. 2.7",
		.model = STRATA_MODEL_FAIL_NOISY,
		.steps = "suspicion within the peer's timeout + max delay",
		.messages = "N-1 heartbeats per period per node",
		.wire_id = 3,
	},
	{
		.name = "omega",
		.family = "fd",
		.title = "Monarchical Eventual Leader Detection, Omega over <>P",
		.book = "Alg. 2.8",
		.model = STRATA_MODEL_FAIL_NOISY,
		.steps = "0 beyond <>P",
		.messages = "0 beyond <>P",
		.wire_id = 4,
	},
	{
		.name = "ele",
		.family = "fd",
		.title = "Elect Lower Epoch, eventual leader detector with epochs on stable storage",
		.book = "Alg. 2.9",
		.model = STRATA_MODEL_FAIL_RECOVERY,
		.steps = "the lowest epoch heard within one period (delay grows by a timeout per change)",
		.messages = "N heartbeats per period per node; 1 storage write per start/recovery",
		.wire_id = 5,
	},
	{
		.name = "bld",
		.family = "fd",
		.title = "Rotating Byzantine Leader Detection, Byzantine leader detector",
		.book = "Alg. 2.10",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "1 after f+1 correct complaints (2 when they must be amplified)",
		.messages = "N per complaining process per round change (at most N^2)",
		.wire_id = 6,
	},
	{ .name = NULL },
};

const struct strata_algo *strata_fd_algos(void)
{
	return algos;
}
