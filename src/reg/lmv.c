/* Logged Majority Voting: a (1,N) regular register in the fail-recovery model (the book's
 * logged variant of Alg. 4.2, section 4.5; its number is not confirmed by public sources).
 *
 * Module 4.1 (1,N) regular register, with crash-recovery: a process that crashes and recovers
 * is correct if it eventually stays up. Per key:
 *   Events: <onrr, Read> / <onrr, ReadReturn | v>; <onrr, Write | v> / <onrr, WriteReturn>.
 *   ONRR1 Termination: if a process invokes an operation and never crashes, the operation
 *         eventually completes.
 *   ONRR2 Validity: a read that is not concurrent with a write returns the last value written;
 *         a read that is concurrent with a write returns the last value written or the value
 *         concurrently written. In particular an acknowledged write is never lost, even if
 *         every process crashes and recovers.
 *
 * Model: fail-recovery with stable storage (strata_store/strata_retrieve), N > 2f where f bounds
 * the processes down or amnesic at the same time. Cost: as Alg. 4.2 — write 2 steps, 2N
 * messages; read 2 steps, 2N messages — plus one stable-storage write per replica per WRITE and
 * one at the writer per write (its counter wts), and one per start (the rid epoch); the node
 * commits a turn's stores in one sync.
 *
 * What is logged and when (the book's store/retrieve): a replica stores (ts, value) before its
 * ACK leaves (the node syncs storage before flushing the turn's datagrams, so storing in the
 * handler that sends the ACK is enough); the writer stores wts before its WRITEs leave, so a
 * recovered writer never reuses a timestamp. Retrieval is lazy: when a key's instance is
 * created after a restart (INIT with arg = 1), its record is read back before first use, which
 * is the book's "upon Recovery: retrieve" for the keys this node will ever touch again, without
 * an index of every key ever written. Reads need no log of their own: a read interrupted by a
 * crash is simply never answered. Phase ids (rid) must still never repeat across incarnations:
 * perfect links hand the VALUEs and ACKs a replica addressed to this node's previous life to its
 * next one, and a reused rid would let such a stale reply count for a new phase (a read returning
 * an overwritten value; a write completing on an ACK for another value). So the module logs one
 * epoch per start and takes its rids above every earlier incarnation's (reg/core.c, "Phase ids").
 * Stale WRITEs are harmless: the (ts, value) they carry was the writer's, adopted only if newer.
 * A corrupt record fails the key with EIO instead of reading as "never written". Memory:
 * reg/core.c's bounded key table and queue.
 *
 * Stacking: READ and WRITE go down to lmv's own instance of beb, VALUE and ACK on perfect
 * links, as Majority Voting (Alg. 4.2) stands on beb + pl. The book's logged register stands on
 * sbeb + sl (stubborn retransmission for a fair-loss world); ours keeps beb + pl because the
 * perfect links retransmit until acknowledged and carry values up to max_value, while a stubborn
 * frame is one datagram (docs/architecture.md, "Where we departed"). What the stubborn links
 * gave and perfect links do not: a replica that crashes after taking a request and before its
 * answer is acknowledged loses the answer, and its next life never saw the request; a phase
 * therefore sends its request once more to a replica whose new incarnation the links report
 * (reg/quorum.c, q_peer_restart). */
#include "core/stack.h"
#include "reg/reg.h"

struct strata_module *reg_lmv_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_MAJORITY, .wts = REG_TS_WRITER, .durable = true,
	};
	struct reg_mod *r =
		reg_quorum_new(n, "lmv", &q, true, true, err, errlen);
	return r ? &r->m : NULL;
}
