/* Byzantine Reliable Channel (the book's Alg. 3.20), over Authenticated Double-Echo Broadcast
 * (brb.c): a multi-shot Byzantine reliable broadcast in which every process is a sender of a
 * sequence of messages. Module "brc".
 *
 * Events:
 *   request    <brch, Broadcast | m>           (client STRATA_OP_BROADCAST)
 *   indication <brch, Deliver | p, m>          (STRATA_OUT_DELIVER: peer = p, a = its sequence
 *                                               number, data = m)
 * Properties (Module 3.14):
 *   BRCH1 Validity, BRCH2 No duplication, BRCH3 Integrity, BRCH4 Consistency: as for the
 *         Byzantine consistent channel (bcc.c), per (sender, label = sequence number);
 *   BRCH5 Totality: if some message with label l and sender p is delivered by any correct
 *         process, every correct process eventually delivers a message with label l and
 *         sender p.
 *   And, from the sequential discipline: every correct process delivers each sender's messages
 *   in sequence order, without gaps (FIFO per sender).
 *
 * Model: fail-arbitrary, authenticated perfect links, N > 3f.
 * Cost per message: that of brb (3 steps: SEND, ECHO, READY; O(N^2) messages), and a sender
 * waits for its previous message to be delivered before it starts the next one.
 *
 * Algorithm: as bcc.c, with brb instances: a sender starts instance (self, k) once it delivered
 * (self, k-1), queueing requests meanwhile (BYZ_QUEUE, STRATA_EFULL when full); every process
 * delivers (p, k) only after (p, k-1). brb's totality per instance and the in-order hand-up give
 * the channel's totality: if a correct process hands up (p, k), it delivered (p, 1..k) in brb,
 * so every correct process eventually delivers all of them in brb and hands them up in order.
 *
 * Quorums (brb.c): READY on ECHOs from more than (N+f)/2 or READYs from more than f; deliver on
 * READYs from more than 2f.
 *
 * Bounded implementation: instances (p, k) with low_p < k <= low_p + BYZ_WIN have state; one is
 * freed once delivered, handed up in order, and low_p passes it (see byz.h). */
#include "core/stack.h"
#include "bcast/byz.h"

struct strata_module *byzb_brc_create(struct strata_node *n, char *err, size_t errlen)
{
	return byzb_create(n, &byzb_proto_brb, "brc", strata_wire_id("brc"), true, 0, err, errlen);
}
