/* Algorithm table (see core/stack.h): the Byzantine broadcasts of the bcast family (book
 * Section 3.10-3.11), model fail-arbitrary, N > 3f. Implementations: aeb.c, seb.c, brb.c (one
 * instance per (sender, seq)), bcc.c and brc.c (the channels), byz_core.c (shared machinery). */
#include "bcast/byz.h"
#include "core/stack.h"

static const struct strata_algo algos[] = {
	{
		.name = "aeb",
		.family = "bcast",
		.title = "Authenticated Echo Broadcast, Byzantine consistent broadcast",
		.book = "Alg. 3.16",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "2 (SEND, ECHO)",
		.messages = "N + N^2, each with the payload",
		.wire_id = 80,
	},
	{
		.name = "seb",
		.family = "bcast",
		.title = "Signed Echo Broadcast (Ed25519), Byzantine consistent broadcast",
		.book = "Alg. 3.17",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "3 (SEND, ECHO to sender, FINAL)",
		.messages = "3N; N signatures, FINAL carries > (N+f)/2",
		.wire_id = 81,
	},
	{
		.name = "brb",
		.family = "bcast",
		.title = "Authenticated Double-Echo Broadcast (Bracha), Byzantine reliable broadcast",
		.book = "Alg. 3.18",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "3 (SEND, ECHO, READY)",
		.messages = "N + 2N^2, each with the payload",
		.wire_id = 82,
	},
	{
		.name = "bcc",
		.family = "bcast",
		.title = "Byzantine Consistent Channel over Authenticated Echo Broadcast",
		.book = "Alg. 3.19 + 3.16",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "2 per message; one message in flight per sender",
		.messages = "N + N^2 per message",
		.wire_id = 83,
	},
	{
		.name = "bcc-seb",
		.family = "bcast",
		.title = "Byzantine Consistent Channel over Signed Echo Broadcast",
		.book = "Alg. 3.19 + 3.17",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "3 per message; one message in flight per sender",
		.messages = "3N per message",
		.wire_id = 84,
	},
	{
		.name = "brc",
		.family = "bcast",
		.title = "Byzantine Reliable Channel over Authenticated Double-Echo Broadcast",
		.book = "Alg. 3.20 + 3.18",
		.model = STRATA_MODEL_FAIL_ARBITRARY,
		.resilience_k = 3,
		.steps = "3 per message; one message in flight per sender",
		.messages = "N + 2N^2 per message",
		.wire_id = 85,
	},
	{ .name = NULL },
};

const struct strata_algo *strata_bcast_byz_algos(void)
{
	return algos;
}
