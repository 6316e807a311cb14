/* Byzantine Consistent Channel (the book's Alg. 3.19), over Authenticated Echo Broadcast
 * (module "bcc", aeb.c) or over Signed Echo Broadcast (module "bcc-seb", seb.c): a multi-shot
 * Byzantine consistent broadcast in which every process is a sender of a sequence of messages.
 *
 * Events:
 *   request    <bcch, Broadcast | m>           (client STRATA_OP_BROADCAST)
 *   indication <bcch, Deliver | p, m>          (STRATA_OUT_DELIVER: peer = p, a = its sequence
 *                                               number, data = m)
 * Properties (Module 3.13):
 *   BCCH1 Validity: if a correct process p broadcasts m, every correct process eventually
 *         delivers m.
 *   BCCH2 No duplication: for every process p and label l, every correct process delivers at
 *         most one message with label l and sender p (our label is the sequence number).
 *   BCCH3 Integrity: if some correct process delivers m with sender p and p is correct, then m
 *         was previously broadcast by p.
 *   BCCH4 Consistency: if a correct process delivers m with label l and sender s, and another
 *         correct process delivers m' with label l and sender s, then m = m'.
 *   And, from the sequential discipline below: every correct process delivers each sender's
 *   messages in sequence order, without gaps (FIFO per sender).
 *
 * Model: fail-arbitrary, authenticated perfect links (and Ed25519 for bcc-seb), N > 3f.
 * Cost per message: that of the underlying instance (aeb: 2 steps, O(N^2) messages; seb: 3
 * steps, O(N) messages), and a sender waits for its previous message to be delivered before it
 * starts the next one (one instance in flight per sender).
 *
 * Algorithm: the channel runs one consistent-broadcast instance per (sender, sequence number).
 * A process broadcasts its k-th message in instance (self, k) only once it has delivered its own
 * instance k-1 (the book's `ready` flag); requests that arrive meanwhile wait in a queue of
 * BYZ_QUEUE entries (a full queue answers STRATA_EFULL) and are answered when their instance
 * starts. A process delivers instance (p, k) only after (p, k-1) (byz_core.c, byzb_deliver).
 *
 * Bounded implementation: the book initialises instance (p, k+1) when (p, k) delivers and keeps
 * every instance forever; here instances (p, k) with low_p < k <= low_p + BYZ_WIN have state
 * (messages from relays may run ahead of a slow process's deliveries), an instance is freed once
 * handed up in order and done (aeb: our ECHO sent), and low_p passes it (see byz.h for exactly
 * what this costs). */
#include "core/stack.h"
#include "bcast/byz.h"

struct strata_module *byzb_bcc_create(struct strata_node *n, char *err, size_t errlen)
{
	return byzb_create(n, &byzb_proto_aeb, "bcc", strata_wire_id("bcc"), true, 0, err, errlen);
}

struct strata_module *byzb_bcc_seb_create(struct strata_node *n, char *err, size_t errlen)
{
	return byzb_create(n, &byzb_proto_seb, "bcc-seb", strata_wire_id("bcc-seb"), true,
			  byzb_seb_overhead(strata_node_n(n)), err, errlen);
}
