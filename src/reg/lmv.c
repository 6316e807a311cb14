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
 * one at the writer per write (its counter wts); the node commits a turn's stores in one sync.
 *
 * What is logged and when (the book's store/retrieve): a replica stores (ts, value) before its
 * ACK leaves (the node syncs storage before flushing the turn's datagrams, so storing in the
 * handler that sends the ACK is enough); the writer stores wts before its WRITEs leave, so a
 * recovered writer never reuses a timestamp. Retrieval is lazy: when a key's instance is
 * created after a restart (INIT with arg = 1), its record is read back before first use, which
 * is the book's "upon Recovery: retrieve" for the keys this node will ever touch again, without
 * an index of every key ever written. Reads need no log: a read interrupted by a crash is simply
 * never answered, and rid restarts safely because perfect links open a new session per
 * incarnation (replies to the old one are dropped). A corrupt record fails the key with EIO
 * instead of reading as "never written". Memory: reg/core.c's bounded key table and queue. */
#include "reg/reg.h"

struct strata_module *reg_lmv_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct reg_quorum_params q = {
		.quorum = REG_Q_MAJORITY, .wts = REG_TS_WRITER, .durable = true,
	};
	struct reg_mod *r = reg_quorum_new(n, "lmv", REG_WIRE_LMV, &q, true, true, err, errlen);
	return r ? &r->m : NULL;
}
